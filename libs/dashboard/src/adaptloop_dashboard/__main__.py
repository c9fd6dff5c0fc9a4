from adaptloop_dashboard.main import main

if __name__ == "__main__":
    main()
