"""Starting Spark for a Loyalist store: the session the ``[engine]`` settings describe,
with a standard error a user can read.

Spark's JVM says things at start-up a user cannot act on ("Using incubator modules",
"Setting default log level"...). Its logging goes through ``log4j2.properties`` beside
this module (errors only); what the JVM itself prints before logging starts is filtered
out of its standard error by a thread that passes every other line on, so a real error
still reaches the user.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from subprocess import PIPE

from loyalist.errors import DataError
from loyalist.settings import Settings, spark_options

#: what the JVM and Spark print at start-up that says nothing to a user (line starts)
START_UP_NOISE = (
    b"WARNING: Using incubator modules",
    b"Setting default log level to",
    b"To adjust logging level use sc.setLogLevel",
)
_QUIET = Path(__file__).with_name("log4j2.properties")


def first_line(e: BaseException) -> str:
    """The first line of an exception's text (py4j's run to dozens of lines)."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _pass_on(stream, out_fd: int) -> None:
    """Copy ``stream``'s lines to ``out_fd`` but those of :data:`START_UP_NOISE`."""
    for line in iter(stream.readline, b""):
        if not line.startswith(START_UP_NOISE):
            try:
                os.write(out_fd, line)
            except OSError:  # standard error closed: nothing left to tell
                return


def _launch_filtered(conf):
    """The SparkContext for ``conf``, its JVM's standard error filtered (a new JVM is
    only started when no context is active in this process)."""
    from pyspark import SparkContext
    from pyspark.java_gateway import launch_gateway

    if SparkContext._active_spark_context is not None:
        return SparkContext.getOrCreate(conf)
    gateway = launch_gateway(conf, popen_kwargs={"stderr": PIPE})
    err = sys.__stderr__.fileno() if sys.__stderr__ is not None else 2
    threading.Thread(target=_pass_on, args=(gateway.proc.stderr, err), daemon=True,
                     name="spark-stderr").start()
    return SparkContext(conf=conf, gateway=gateway)


def session_options(settings: Settings) -> dict[str, str]:
    """The options of the session Loyalist starts: the ``[engine]`` keys, then
    ``[engine] spark_conf`` (which may turn the web UI back on); the driver's Java
    options are the user's followed by Loyalist's quiet logging, and the time zone is
    always UTC."""
    engine = settings.engine
    options = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        **spark_options(engine.spark_conf),
        "spark.sql.shuffle.partitions": str(engine.shuffle_partitions),
        "spark.driver.memory": engine.driver_memory,
        "spark.sql.session.timeZone": "UTC",
    }
    java = options.get("spark.driver.extraJavaOptions", "")
    options["spark.driver.extraJavaOptions"] = " ".join(
        filter(None, [java, f"-Dlog4j2.configurationFile={_QUIET.as_uri()}"]))
    return options


def start_session(settings: Settings):
    """A local or cluster SparkSession by the ``[engine]`` settings (master, shuffle
    partitions, driver memory, further ``spark_conf`` options), or a DataError saying
    why Spark cannot start."""
    try:
        from pyspark import SparkConf
        from pyspark.sql import SparkSession
    except ImportError:
        raise DataError("Spark stores need pyspark.",
                        hint="pip install pyspark (and a Java runtime 17 or newer).") from None
    engine = settings.engine
    options = session_options(settings)
    try:
        conf = SparkConf().setMaster(engine.master).setAppName("loyalist").setAll(
            list(options.items()))
        _launch_filtered(conf)
        builder = SparkSession.builder.master(engine.master).appName("loyalist")
        for key, value in options.items():
            builder = builder.config(key, value)
        return builder.getOrCreate()
    except Exception as e:  # py4j and the JVM launcher raise many kinds
        raise DataError(f"Cannot start Spark (master {engine.master}): "
                        f"{first_line(e)}.", hint="Check [engine] master and that Java 17 or "
                        "newer is installed (make java).") from None
