from adaptloop_drift.main import main

main()
