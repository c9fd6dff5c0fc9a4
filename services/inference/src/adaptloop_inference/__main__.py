"""`python -m adaptloop_inference`. The guard matters: vLLM starts its engine in a spawned process."""

from adaptloop_inference.main import main

if __name__ == "__main__":
    main()
