"""portfolio-backend: the portfolio API, served by FastAPI and shipped as a Lambda image."""
