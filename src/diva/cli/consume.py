"""``diva consume``: the broker consumer of the model-on-demand pattern.

Registered on the main group by :mod:`diva.cli`. Every option can come from the
environment, which is how the generated Deployment configures it (its ConfigMap). The
broker client is imported only when the command runs (:mod:`diva.runtime.consumer`).
"""

from __future__ import annotations

from pathlib import Path

import click


def _say(message: str) -> None:
    click.echo(f"diva: {message}", err=True)


@click.command()
@click.option(
    "--broker-kind", envvar="BROKER_KIND", required=True, help="redis (the only one yet)."
)
@click.option("--broker-url", envvar="BROKER_URL", required=True, help="e.g. redis://host:6379/0.")
@click.option("--input-topic", envvar="INPUT_TOPIC", required=True, help="Requests come from here.")
@click.option("--output-topic", envvar="OUTPUT_TOPIC", required=True, help="Answers go here.")
@click.option(
    "--credentials-dir",
    envvar="BROKER_CREDENTIALS_DIR",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder with the files 'username' and 'password' (the mounted Secret).",
)
@click.option(
    "--server",
    envvar="MODEL_SERVER",
    default="http://127.0.0.1:8080",
    show_default=True,
    help="The scoring server (POST /invocations, GET /ping).",
)
@click.option(
    "--group",
    envvar="BROKER_GROUP",
    default="diva",
    show_default=True,
    help="The consumer group that all replicas share.",
)
@click.option("--consumer", "name", help="This replica's name in the group (default: host name).")
@click.option(
    "--claim-after",
    type=click.FloatRange(min=0),
    default=120.0,
    show_default=True,
    metavar="SECONDS",
    help="Take over another replica's unanswered request after this long (0: never).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Longest wait for the scoring server's answer to one request.",
)
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=300.0,
    show_default=True,
    metavar="SECONDS",
    help="Longest wait for the scoring server's /ping at the start.",
)
@click.option(
    "--heartbeat",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A file touched every second or so while the consumer works (for probes).",
)
def consume(
    broker_kind: str,
    broker_url: str,
    input_topic: str,
    output_topic: str,
    credentials_dir: Path | None,
    server: str,
    group: str,
    name: str | None,
    claim_after: float,
    timeout: float,
    wait: float,
    heartbeat: Path | None,
) -> None:
    """Answer model requests from a broker with the scoring server's predictions.

    Reads JSON bodies in MLflow's scoring format from the input topic, posts each to
    the scoring server and writes {"id", "predictions"} or {"id", "error"} to the
    output topic; a request is acknowledged only after its answer is written. Stops
    after the request in hand on SIGTERM. Exit 0 stopped, 2 usage error (an
    unsupported broker kind), 4 the broker or the scoring server is unavailable.
    """
    import socket

    from diva.runtime.consumer import consume as run
    from diva.runtime.consumer.broker import Settings

    settings = Settings(
        kind=broker_kind,
        url=broker_url,
        input_topic=input_topic,
        output_topic=output_topic,
        credentials_dir=credentials_dir,
        server=server,
        group=group,
        name=name or socket.gethostname(),
        claim_after=claim_after,
        timeout=timeout,
        wait=wait,
        heartbeat=heartbeat,
    )
    tally = run(settings, _say)
    _say(f"stopped: {tally.answered} requests answered, {tally.errors} with an error")


COMMANDS = (consume,)
