"""System tier, all ``slow`` (see conftest.py): killed processes, workers, the browser, llama.cpp,
Postgres, benches and evals end to end. `make test` runs it; `make quick` does not."""
