from hypothesis import HealthCheck, settings

pytest_plugins = ["tests.fixtures.servers", "tests.fixtures.service", "tests.fixtures.secure"]

# No per-example deadline: these machines are shared and noisy, and a slow example is not
# a failure (speed is measured by the benchmarks, never by timed assertions).
settings.register_profile("one-bus", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("one-bus")
