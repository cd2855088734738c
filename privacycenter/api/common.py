"""What every endpoint of the privacy API shares: its extra error types and the
re-authentication header."""

from rest_framework import status
from rest_framework.exceptions import APIException

CONFIRM_PASSWORD_HEADER = "X-Confirm-Password"


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "That cannot be done in the current state."


class Gone(APIException):
    status_code = status.HTTP_410_GONE
    default_code = "gone"
    default_detail = "This is gone."
