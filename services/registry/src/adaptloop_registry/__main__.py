from adaptloop_registry.main import main

main()
