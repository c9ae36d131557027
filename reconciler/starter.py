"""What ``reconciler init`` writes: a starter settings file and manifest, as plain values.

For someone who installed the tool (e.g. with pipx) outside a repository: both files are valid
as written (``reconciler validate`` accepts them, ``reconciler --simulate plan`` plans their
example customers), every setting shows its default, and the comments say where the rest is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from reconciler.config import DEFAULT_CONFIG
from reconciler.settings import DEFAULT_ENDPOINT, DEFAULT_PARALLELISM, DEFAULT_STATE_PATH

#: Where editors find the published schemas (the repository's ``schemas/`` directory).
SCHEMAS_URL = ("https://raw.githubusercontent.com/partnercenter-reconciler/"
               "partnercenter-reconciler/main/schemas")


@dataclass(frozen=True, slots=True)
class StarterFile:
    """One file ``init`` writes: its path relative to the project directory, and its text."""

    path: PurePosixPath
    text: str
    #: What it is, for the line that says it was written.
    about: str


SETTINGS = f"""\
# yaml-language-server: $schema={SCHEMAS_URL}/config.schema.json
# Settings for reconciler, written by `reconciler init`. Every value below is the default;
# command-line options and environment variables override this file. Relative paths are
# relative to this file. Credentials never go here: they come from the environment.

# Manifest files or directories (*.yaml and *.yml, read recursively).
manifests: [manifests/]

backend:
  # The recorded state: a local file, with a .backup and a journal beside it. For pipelines
  # that share one state, use Azure Blob Storage instead
  # (pip install 'partnercenter-reconciler[azure]'):
  #   type: azureblob
  #   account_url: https://ACCOUNT.blob.core.windows.net
  #   container: reconciler
  #   key: state.json
  type: local
  path: {DEFAULT_STATE_PATH.as_posix()}

partner_center:
  # Try everything first with --simulate: an embedded Partner Center simulator, no credentials
  # needed (its world is kept in .reconciler/simulator.json). For the real service, set
  # PARTNER_CENTER_ACCESS_TOKEN, or the secure application model's PARTNER_CENTER_CLIENT_SECRET
  # and PARTNER_CENTER_REFRESH_TOKEN with the two ids below, in the environment.
  endpoint: {DEFAULT_ENDPOINT}
  # tenant_id: 00000000-0000-0000-0000-000000000000   # your partner tenant
  # client_id: 00000000-0000-0000-0000-000000000000   # the web app's application id

apply:
  parallelism: {DEFAULT_PARALLELISM:<16}  # the most Partner Center calls in flight
  max_requests_per_minute: auto  # find the rate Partner Center accepts; a number caps it
"""

MANIFEST = f"""\
# yaml-language-server: $schema={SCHEMAS_URL}/manifest.schema.json
# An example manifest, written by `reconciler init`: which customers must be on which product
# family. Replace the example customers with yours (`reconciler discover --write manifests/`
# writes manifests from your partner's customer list), then check with `reconciler validate`.
apiVersion: reconciler/v1
kind: ProductUpgrades
metadata:
  name: example                # unique across all manifests
  labels: {{wave: "1"}}          # optional, string → string
spec:
  productFamily: Azure          # the family to move the customers to
  customers:
    - id: 00000000-0000-4000-8000-000000000001   # the customer's tenant id (a GUID)
      name: Example Customer One                 # optional, for humans only
    - id: 00000000-0000-4000-8000-000000000002
      name: Example Customer Two
"""

#: Every file ``init`` writes, in the order it writes them.
FILES = (
    StarterFile(PurePosixPath(DEFAULT_CONFIG.as_posix()), SETTINGS,
                "the settings, each at its default"),
    StarterFile(PurePosixPath("manifests/example.yaml"), MANIFEST,
                "an example manifest with two customers"),
)
