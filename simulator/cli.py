"""``crm-warehouse simulate``: generate (or continue) the demo source systems.

A plugin of the ``crm-warehouse`` command line (entry-point group ``crm_warehouse.commands``
in pyproject.toml), so the product CLI never imports the simulator. The simulator reads no
warehouse settings: the main command group puts the resolved settings in the click context
(``ctx.obj``, a plain dict), and this command takes its defaults from there.
"""

from __future__ import annotations

from pathlib import Path

import click

from simulator.config import DEFAULT_TIMEZONE, DefectRates, SimConfig


def _parse_defects(values: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for v in values:
        name, sep, rate = v.partition("=")
        if not sep:
            raise click.BadParameter(f"{v!r} is not NAME=RATE", param_hint="--defect")
        try:
            out[name.strip()] = float(rate)
        except ValueError as e:
            raise click.BadParameter(f"rate in {v!r} is not a number", param_hint="--defect") from e
    return out


def _context_setting(name: str):
    """A resolved setting the ``crm-warehouse`` group put in ``ctx.obj``; None when the command
    runs on its own (``python -m simulator.cli``) or the group did not provide it."""
    ctx = click.get_current_context(silent=True)
    obj = ctx.obj if ctx is not None else None
    return obj.get(name) if isinstance(obj, dict) else None


@click.command("simulate")
@click.option("--customers", type=click.IntRange(min=1), default=3000, show_default=True,
              help="persons in the world at the end of the history")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--locale", type=click.Choice(["en_US", "zh_CN"]), default="en_US", show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="output directory [default: CRMW_SOURCES_DIR under crm-warehouse]")
@click.option("--erp-url", default=None,
              help="SQLAlchemy URL of the ERP database [default: SQLite <out>/erp/erp.sqlite]")
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="continue the saved world for N more days instead of starting afresh")
@click.option("--if-missing", is_flag=True, help="do nothing if sources already exist at --out")
@click.option("--defect", "defects", multiple=True, metavar="NAME=RATE",
              help=f"override a defect rate; names: {', '.join(DefectRates.names())}")
@click.option("--start-date", type=click.DateTime(formats=["%Y-%m-%d"]), default="2024-11-01",
              show_default=True)
@click.option("--history-days", type=click.IntRange(min=1), default=730, show_default=True)
@click.option("--quiet", is_flag=True, help="no progress output")
def simulate_command(customers, seed, locale, out_dir, erp_url, days, if_missing, defects,
                     start_date, history_days, quiet):
    """Generate the ERP, e-commerce and service-desk demo sources plus their ground truth."""
    from simulator.world import continue_days, simulate, sources_exist

    out_dir = out_dir or _context_setting("sources_dir")
    if out_dir is None:
        raise click.UsageError("no output directory: pass --out, or run it as "
                               "`crm-warehouse simulate` (which defaults to CRMW_SOURCES_DIR)")
    out_dir = Path(out_dir)
    if if_missing and sources_exist(out_dir) and days is None:
        click.echo(f"sources already exist at {out_dir}; nothing to do (--if-missing)")
        return
    if days is not None:
        if defects:
            raise click.UsageError("--defect applies to a new world, not to --days")
        continue_days(out_dir, days, erp_url=erp_url, verbose=not quiet)
        click.echo(f"continued the world at {out_dir} by {days} days")
        return
    try:
        rates = DefectRates().with_overrides(_parse_defects(defects))
        cfg = SimConfig(customers=customers, seed=seed, locale=locale, out_dir=out_dir,
                        erp_url=erp_url, start_date=start_date.date(),
                        history_days=history_days,
                        timezone=_context_setting("source_timezone") or DEFAULT_TIMEZONE,
                        defects=rates, verbose=not quiet)
    except ValueError as e:
        raise click.UsageError(str(e)) from e
    simulate(cfg)
    click.echo(f"wrote sources for {customers:,} persons to {out_dir}")


main = simulate_command

if __name__ == "__main__":
    main()
