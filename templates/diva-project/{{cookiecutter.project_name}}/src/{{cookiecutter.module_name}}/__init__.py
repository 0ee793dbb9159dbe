"""{{ cookiecutter.project_title }}."""
