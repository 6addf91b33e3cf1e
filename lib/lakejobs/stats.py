"""Statistical tests as Spark column expressions: no Python UDF, so they run in the JVM at scale.

Spark has no `erf`, so the normal tail is Hart's double-precision rational approximation (Hart
1968, algorithm 5666, as published by G. West, "Better approximations to cumulative normal
functions", 2005): absolute error near 1e-15, far inside the 1e-7 the tests demand. It gives the
upper tail directly, so tiny p-values keep their relative precision (no `1 - cdf`): within 1e-7
even past 7 standard deviations, where a continued fraction takes over.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

# Numerator and denominator of the rational part for |x| < 7.07 (highest degree first).
_HART_NUMERATOR = (
    3.52624965998911e-02,
    0.700383064443688,
    6.37396220353165,
    33.912866078383,
    112.079291497871,
    221.213596169931,
    220.206867912376,
)
_HART_DENOMINATOR = (
    8.83883476483184e-02,
    1.75566716318264,
    16.064177579207,
    86.7807322029461,
    296.564248779674,
    637.333633378831,
    793.826512519948,
    440.413735824752,
)
_HART_SWITCH = 7.07106781186547  # beyond it a continued fraction is more precise
_SQRT_2PI = 2.506628274631
_UNDERFLOW = 37.0  # exp(-x²/2) underflows to 0 in double precision past this


def _horner(x: Column, coefficients: tuple[float, ...]) -> Column:
    result: Column = F.lit(coefficients[0])
    for c in coefficients[1:]:
        result = result * x + F.lit(c)
    return result


def _lower_tail_of_minus_abs(a: Column) -> Column:
    """P(Z <= -a) for a >= 0, i.e. the upper tail P(Z > a)."""
    density = F.exp(-a * a / 2.0)
    rational = density * _horner(a, _HART_NUMERATOR) / _horner(a, _HART_DENOMINATOR)
    fraction = a + F.lit(0.65)
    for k in (4.0, 3.0, 2.0, 1.0):
        fraction = a + F.lit(k) / fraction
    continued = density / fraction / _SQRT_2PI
    return F.when(a > _UNDERFLOW, F.lit(0.0)).when(a < _HART_SWITCH, rational).otherwise(continued)


def normal_sf(x: Column) -> Column:
    """Upper tail P(Z > x) of the standard normal distribution (null for null x)."""
    tail = _lower_tail_of_minus_abs(F.abs(x))
    return F.when(x >= 0, tail).otherwise(F.lit(1.0) - tail)


def normal_cdf(x: Column) -> Column:
    """P(Z <= x) of the standard normal distribution (null for null x)."""
    return normal_sf(-x)


def two_sided_p_value(z: Column) -> Column:
    """P(|Z| >= |z|): twice the upper tail at |z|, computed without cancellation."""
    return F.lit(2.0) * _lower_tail_of_minus_abs(F.abs(z))


def two_proportion_z(
    successes: Column, trials: Column, base_successes: Column, base_trials: Column
) -> Column:
    """Pooled two-proportion z statistic of (successes/trials) against the base proportion.

    Positive when the first proportion is higher. Null when either side has no trials; 0 when
    the pooled variance is 0 (both proportions 0 or both 1: no evidence of a difference).
    """
    x1, n1 = successes.cast("double"), trials.cast("double")
    x2, n2 = base_successes.cast("double"), base_trials.cast("double")
    pooled = (x1 + x2) / (n1 + n2)
    se = F.sqrt(pooled * (F.lit(1.0) - pooled) * (F.lit(1.0) / n1 + F.lit(1.0) / n2))
    return (
        F.when((n1 <= 0) | (n2 <= 0), F.lit(None).cast("double"))
        .when(se == 0, F.lit(0.0))
        .otherwise((x1 / n1 - x2 / n2) / se)
    )
