from grader.sandbox.capture import Capture


def test_keeps_head_and_tail_and_says_how_much_was_cut():
    c = Capture(keep=20)
    for i in range(100):
        c.feed(f"{i:03d}\n".encode())
    text, cut = c.text()
    assert cut and text.startswith("000\n001\n") and text.rstrip().endswith("099")
    assert "bytes of output cut" in text


def test_small_output_is_whole_and_secret_redacted():
    c = Capture(keep=1000)
    c.feed(b"token=hunter2 path=/job/x/submission/backprop.py\n")
    text, cut = c.text(redact=("hunter2",), paths={"/job/x/submission/": ""})
    assert not cut and text == "token=[redacted] path=backprop.py\n"


def test_a_flood_is_counted_and_discarded_never_a_limit():
    c = Capture(keep=10)
    for _ in range(1000):
        c.feed(b"x" * 65536)
    text, cut = c.text()
    assert cut and c.total == 1000 * 65536
    assert len(text) < 100 and f"{1000 * 65536 - 10} bytes of output cut" in text
