"""API objects with attribute and key access."""


class PaygateObject(dict):
    """A dict whose keys are also attributes: ``order.status`` and
    ``order["status"]`` are the same. Nested objects are PaygateObjects."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        self[name] = value

    def __delattr__(self, name):
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None


def convert(value):
    """Turns decoded JSON into PaygateObjects, recursively."""
    if isinstance(value, dict):
        return PaygateObject((k, convert(v)) for k, v in value.items())
    if isinstance(value, list):
        return [convert(v) for v in value]
    return value
