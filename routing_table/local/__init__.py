"""Local stand-ins for AWS services (DynamoDB Local, an S3 emulator), for tests, demo and serve."""
