"""Console views of secrets_app, one module per page family: secrets, groups, config_tests."""
