import pytest

from control_plane.celery import app as celery_app


@pytest.fixture
def redis_broker(redis_url):
    """The Celery app publishes to and counts the session's Redis, as in production."""
    previous = celery_app.conf.broker_url, celery_app.conf.broker_transport_options
    celery_app.conf.broker_url, celery_app.conf.broker_transport_options = redis_url, {}
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    yield redis_url
    celery_app.conf.broker_url, celery_app.conf.broker_transport_options = previous
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
