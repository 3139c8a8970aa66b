"""``deployer config show``."""

from __future__ import annotations

import typer

from deployer.cli import common

config_app = typer.Typer(
    cls=common.QuickHelpGroup, help="Inspect the configuration.", no_args_is_help=True, rich_markup_mode=None
)


@config_app.command("show", cls=common.HelpFirstCommand)
@common.shared_options(run=False)
def show(
    opts: common.Shared = common.DEFAULTS,
) -> None:
    """Print the resolved configuration and where each value came from (flag, env, file, gcloud, default)."""
    from deployer.cli.output import emit_json, out
    from deployer.masking import mask

    config = opts.load()
    # Secret env values are masked, by name, before anything is printed (short values too).
    described = mask(config.describe())
    if opts.as_json:
        emit_json(described)
        return
    out(f"config file: {described['config_file'] or '(none found)'}")
    for key in ("project", "region", "repository"):
        item = described[key]
        value = item["value"] if item["value"] is not None else "(not set)"
        detail = f" ({item['detail']})" if item.get("detail") else ""
        out(f"{key:<11} {value!s:<28} from {item['source']}{detail}")
    out("[build]")
    for key, value in described["build"].items():
        out(f"  {key:<24} {value}")
    for section in ("services", "vms"):
        for name, table in described[section].items():
            out(f"[{section}.{name}]")
            for key, value in table.items():
                out(f"  {key:<24} {value}")
