from adaptloop_trainer.main import main

main()
