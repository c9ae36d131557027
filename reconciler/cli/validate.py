"""``reconciler validate``: parse and validate manifests offline."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler import manifest, workflow
from reconciler.cli.ci import active, annotate, no_ci_option
from reconciler.cli.common import manifests, manifests_option
from reconciler.settings import Settings
from reconciler.words import plural


@click.command()
@manifests_option
@no_ci_option
@click.pass_obj
def validate(settings: Settings, manifest_paths: tuple[Path, ...], no_ci: bool) -> int:
    """Validate manifests offline: no API call, no state access.

    Exit 0 when every manifest is valid; otherwise exit 1, listing every problem as
    path:line:column: message.
    """
    paths = manifests(settings, manifest_paths)
    with workflow.bulk_building():  # 100,000 customers: see the benchmark
        desired, problems = manifest.check(paths, settings.allowed_families,
                                           settings.working_tree)
    if problems:
        annotate(active(settings, no_ci), [str(p) for p in problems])
        for problem in problems:
            click.echo(str(problem))
        files = len({p.path for p in problems})
        click.echo(
            f"Error: {plural(len(problems), 'problem')} in {plural(files, 'file')}.", err=True
        )
        return 1
    customers = len({u.customer_id for u in desired.upgrades})
    click.echo(
        f"Valid: {plural(len(desired.files), 'manifest file')}, "
        f"{plural(customers, 'customer')}, "
        f"{plural(len(desired.upgrades), 'desired upgrade')}."
    )
    return 0
