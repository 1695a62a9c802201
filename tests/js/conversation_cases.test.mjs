// The shared table of conversation cases (tests/cases/conversation_cases.json), run
// against the web client's ES modules with Node's built-in test runner. The same table
// runs against the terminal client in tests/unit/test_conversation_cases.py, so the
// two clients cannot drift apart unnoticed. Run: node --test tests/js/
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { run, snapshot, stepTs } from "./web_state.mjs";

const table = JSON.parse(readFileSync(new URL("../cases/conversation_cases.json", import.meta.url), "utf8"));

function compare(expect, got) {
  for (const [field, wanted] of Object.entries(expect)) {
    if (field !== "conversations") {
      assert.deepEqual(got[field], wanted, field);
      continue;
    }
    for (const [key, conv] of Object.entries(wanted)) {
      assert.ok(key in got.conversations, `no conversation ${JSON.stringify(key)}: ${Object.keys(got.conversations)}`);
      for (const [name, value] of Object.entries(conv)) {
        assert.deepEqual(got.conversations[key][name], value, `conversation ${JSON.stringify(key)}: ${name}`);
      }
    }
  }
}

test("a step without ts gets the table's time", () => {
  assert.equal(stepTs(0), "2026-11-21T10:00:00.000Z");
  assert.equal(stepTs(61), "2026-11-21T10:01:01.000Z");
});

for (const c of table.cases) {
  test(c.name, () => {
    run(c.steps);
    compare(c.expect, snapshot());
  });
}
