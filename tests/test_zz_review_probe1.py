import sys; sys.path.insert(0, "/tmp/rv")
from probe_util import ask, collect
ACCOUNTS = {"alice": "a", "bob": "b", "carol": "c", "root": "r"}

def test_probe(make_harness, caplog):
    h = make_harness(ACCOUNTS, admins=("root",), max_users=8)
    cl = {n: h.login(n, p) for n, p in ACCOUNTS.items()}
    log = []
    lines = [
        ("alice", "/create #"), ("alice", "/create # "), ("alice", "/create ##a"), ("alice", "/create #a b"),
        ("alice", "/create #" + "x"*40), ("alice", "/create #é"), ("alice", "/create #e\u0301x"),
        ("alice", "/create #g private"), ("alice", "/create #G"), ("alice", "/create #h PRIVATE"),
        ("alice", "/create #pub"), ("alice", "/create #pub2 public extra"),
        ("alice", "/rename #g #g"), ("alice", "/rename #g #G"), ("alice", "/rename #G #pub"), ("alice", "/rename #G #"),
        ("alice", "/rename #G"), ("alice", "/rename #nope #x"),
        ("alice", "#"), ("alice", "# "), ("alice", "#G"), ("alice", "#G   "), ("alice", "##G hi"), ("alice", "#G\thi"),
        ("bob", "/join #"), ("bob", "/join"), ("bob", "/join #G"), ("bob", "/join #G"), ("bob", "/leave #G"),
        ("bob", "/members #G"), ("bob", "/topic #G"), ("bob", "/history #G"), ("bob", "/history #G 5"), ("bob", "/history #G x"),
        ("bob", "/history # 3"), ("bob", "/groups"), ("bob", "/typing on #G"), ("bob", "/focus #G"),
        ("alice", "/accept nobody #G"), ("alice", "/accept bob G"), ("alice", "/accept bob"), ("alice", "/accept #G bob"),
        ("alice", "/kick bob"), ("alice", "/kick bob #G"), ("alice", "/kick alice #G"), ("alice", "/kick nobody #G"),
        ("alice", "/ban bob #G extra"), ("alice", "/ban bob #G"), ("bob", "/join #G"), ("alice", "/unban bob #G"),
        ("alice", "/unban bob #G"), ("alice", "/unban bob #zz"), ("alice", "/unban bob extra"), ("alice", "/kick bob #"),
        ("root", "/kick alice #G"), ("root", "/ban alice #G"), ("root", "/rename #G #root"), ("root", "/topic #root hello"),
        ("carol", "/topic #root"), ("carol", "/members #root"), ("carol", "/history #root"), ("carol", "/typing on #root"),
        ("alice", "/topic #root"), ("alice", "/topic #root "), ("alice", "/msg # hi"), ("alice", "/msg #root"), ("alice", "/msg #root  "),
        ("alice", "/me #root"), ("alice", "/me #root waves"), ("alice", "/shrug #root"), ("alice", "/focus"), ("alice", "/focus #root extra"),
        ("alice", "/focus #"), ("alice", "/delete #"), ("alice", "/delete"), ("alice", "/leave #"),
        ("bob", "/msg @alice hi"), ("bob", "@alice @ALICE @alice. hey"), ("bob", "/unban bob"),
    ]
    for who, line in lines:
        ask(h, cl, who, line, log)
    for who, line, r in log:
        print(f"{who}> {line!r}")
        for k, v in r.items():
            for l in v: print(f"    {k}: {l}")
    print("ERRORS in log:", [r.getMessage() for r in caplog.records if "internal" in r.getMessage()])
