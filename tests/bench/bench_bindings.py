"""The Python side of bench_bindings.sh (ctypes binding)."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "bindings", "python"))
import kefu  # noqa: E402

model_path, messages, passes = sys.argv[1], sys.argv[2], int(sys.argv[3])
m = kefu.Model.load(model_path)
msgs = [l.rstrip("\n") for l in open(messages, encoding="utf-8")]
best = [1e30] * 3
for _ in range(passes):
    t0 = time.process_time()
    for t in msgs:
        m.classify(t, entities=False)
    t1 = time.process_time()
    for t in msgs:
        m.emotion(t)
    t2 = time.process_time()
    s = m.session()
    for i, t in enumerate(msgs):
        s.turn(t, time_ms=i * 1000)
    t3 = time.process_time()
    s.close()
    best = [min(best[0], t1 - t0), min(best[1], t2 - t1), min(best[2], t3 - t2)]
n = len(msgs)
for name, b in zip(("classify", "emotion", "turn"), best):
    print("%s %.3f" % (name, b / n * 1e6))
