"""`python -m evals.train_answer split|prepare|train|export|evaluate`: the answer model's recipe."""

from evals.train_answer.cli import main

if __name__ == "__main__":
    main()
