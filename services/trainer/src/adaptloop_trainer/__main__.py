import os

# Before torch loads (OpenMP reads it once): threads that finish their share of an operation sleep
# instead of spinning, which on a busy machine burnt the CPU the other training thread needed (see
# docs/trainer.md, Throughput). The environment's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

from adaptloop_trainer.main import main

main()
