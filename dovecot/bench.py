#!/usr/bin/env python3
"""Dovecot's figures: mail attachments through libfs_coffer.so on an S3 server, against Dovecot's
own `posix` driver on local disk, in one run (docs/dovecot.md, "Figures").

Two Dovecot instances of the same installation (2.3, or 2.4 inside a Debian root with --root),
alike but for the filesystem that keeps attachments, each with a
process per IMAP session and the default vsz_limit (Dovecot's defaults, imap's service_count = 1):
- delivery: N messages with a 300 KiB attachment over LMTP, in batches taken in turn;
- FETCH: BODY[] of each of them in one IMAP session, in batches taken in turn, every body checked;
- RSS: the imap process of that session, with the driver loaded and without;
- a new process's first attachment read: S fresh sessions each (connect, log in, select, FETCH
  BODY[] of one message), the medians and their difference; and the first delivery of all, which
  finds the plugin's cache empty.

Run as root, on a server named by COFFER_TEST_S3_* (Garage, for the figures in the docs):
  eval "$(scripts/garage-up)" && python3 dovecot/bench.py "$(dovecot/build --release)" \\
      [--format mdbox|sdbox] [--root DEBIAN-ROOT] [--messages 200] [--sessions 20]
"""
import argparse
import importlib.util
import os
import pathlib
import shutil
import statistics
import subprocess
import time

here = pathlib.Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("dovecot_test", here / "test.py")
t = importlib.util.module_from_spec(spec)
spec.loader.exec_module(t)
from instance import Dovecot, Fs  # noqa: E402 - beside this file (test.py put it on the path)

USER, PASSWORD = "alice@one.test", "secret1"
BATCH = 10


class Instance:
    def __init__(self, kind, driver_fs, root, attachment_dir):
        self.kind, self.root = kind, root
        self.conf, self.lmtp, self.imap = t.DV.conf(root, "run", driver_fs, t.FORMAT, attachment_dir)
        t.DV.start(self.conf, self.imap)
        self.deliver_s = self.fetch_s = 0.0

    def login(self):
        return t.inbox(self.imap, USER, PASSWORD)[0]

    def session_rss_kib(self):
        """VmRSS of the one imap process the master runs now (the session that is open)."""
        master = (self.root / "run" / "master.pid").read_text().strip()
        pids = subprocess.run(["pgrep", "-P", master, "-x", "imap"], capture_output=True, text=True).stdout.split()
        assert len(pids) == 1, f"{self.kind}: {len(pids)} imap processes, expected the session's one"
        status = pathlib.Path(f"/proc/{pids[0]}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))

    def stop(self):
        t.DV.stop(self.conf)


def coffer_instance(driver, prefix):
    root = t.DV.mkdtemp("coffer-bench-coffer-")
    t.DV.prepare(root)
    (root / "coffer.toml").write_text(t.tenant("mail", os.environ["COFFER_TEST_S3_ENDPOINT"], prefix))
    os.chmod(root / "coffer.toml", 0o644)
    return Instance("coffer", t.template(root), root, "/attachments")


def posix_instance():
    root = t.DV.mkdtemp("coffer-bench-posix-")
    t.DV.prepare(root, owned=("home", "attachments"))
    return Instance("posix", Fs.posix(), root, f"{t.DV.inside(root)}/attachments")


def timed(f):
    started = time.perf_counter()
    f()
    return time.perf_counter() - started


def deliver_all(instances, raws):
    first = {i.kind: timed(lambda i=i: expect(t.deliver(i.lmtp, USER, raws[0]) == 250, i, "first delivery"))
             for i in instances}
    for start in range(1, len(raws), BATCH):
        for i in instances:
            batch = raws[start:start + BATCH]
            i.deliver_s += timed(lambda i=i, batch=batch: [expect(t.deliver(i.lmtp, USER, raw) == 250, i, "delivery")
                                                          for raw in batch])
    return first


def fetch_all(instances, raws):
    sessions = {i.kind: i.login() for i in instances}
    for start in range(0, len(raws), BATCH):
        for i in instances:
            def batch(i=i):
                for n in range(start, min(start + BATCH, len(raws))):
                    typ, data = sessions[i.kind].fetch(str(n + 1), "(BODY.PEEK[])")
                    expect(typ == "OK" and data[0][1].endswith(raws[n]), i, f"FETCH of message {n + 1}")
            i.fetch_s += timed(batch)
    rss = {i.kind: i.session_rss_kib() for i in instances}
    for imap in sessions.values():
        imap.logout()
    return rss


def first_reads(instances, count, sessions):
    """Each a new imap process: connect, log in, select, FETCH BODY[] of one message."""
    times = {i.kind: [] for i in instances}
    for s in range(sessions):
        for i in instances:
            def session(i=i):
                imap = i.login()
                typ, data = imap.fetch(str(s % count + 1), "(BODY.PEEK[])")
                expect(typ == "OK" and len(data[0][1]) > 300 * 1024, i, "a new session's FETCH")
                imap.logout()
            times[i.kind].append(timed(session))
            time.sleep(0.05)  # let the session's process end before the next
    return times


def expect(cond, instance, what):
    if not cond:
        raise SystemExit(f"dovecot bench: {instance.kind}: {what} failed; see {instance.root}/dovecot.log")


def main():
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("driver")
    args.add_argument("--messages", type=int, default=200)
    args.add_argument("--sessions", type=int, default=20)
    args.add_argument("--format", choices=["sdbox", "mdbox"], default="mdbox")
    args.add_argument("--root", help="a Debian root whose Dovecot to run (scripts/debian-root 13)")
    args = args.parse_args()
    t.DV, t.FORMAT = Dovecot(args.root), args.format
    t.DV.install(pathlib.Path(args.driver).resolve())
    t.DV.__enter__()  # inside a root: /proc and /dev, until the instances stop
    prefix = f"dovecot-bench-{os.getpid()}-{int(time.time())}/"
    raws = [t.message("sender@example.net", USER, os.urandom(300 * 1024)) for _ in range(args.messages)]
    instances = [coffer_instance(pathlib.Path(args.driver).resolve(), prefix), posix_instance()]
    try:
        first = deliver_all(instances, raws)
        rss = fetch_all(instances, raws)
        cold = first_reads(instances, len(raws), args.sessions)
    finally:
        for i in instances:
            i.stop()
        t.DV.__exit__()
    coffer, posix = instances
    n = len(raws) - 1
    rate = lambda s, count: count / s if s else float("inf")
    median = {k: statistics.median(v) * 1000 for k, v in cold.items()}
    print(f"Dovecot, {len(raws)} messages with a 300 KiB attachment; coffer on {os.environ['COFFER_TEST_S3_ENDPOINT']}")
    print(f"{'':34} {'coffer':>10} {'posix':>10} {'ratio':>7}")
    d_c, d_p = rate(coffer.deliver_s, n), rate(posix.deliver_s, n)
    f_c, f_p = rate(coffer.fetch_s, len(raws)), rate(posix.fetch_s, len(raws))
    print(f"{'LMTP delivery, messages/s':34} {d_c:10.1f} {d_p:10.1f} {d_c / d_p:6.2f}x")
    print(f"{'IMAP FETCH BODY[], messages/s':34} {f_c:10.1f} {f_p:10.1f} {f_c / f_p:6.2f}x")
    print(f"{'imap process RSS, MiB':34} {rss['coffer'] / 1024:10.1f} {rss['posix'] / 1024:10.1f}")
    print(f"{'new session first read, ms p50':34} {median['coffer']:10.1f} {median['posix']:10.1f}"
          f"   +{median['coffer'] - median['posix']:.1f} ms")
    print(f"{'first delivery (cache empty), ms':34} {first['coffer'] * 1000:10.1f} {first['posix'] * 1000:10.1f}")
    for i in instances:
        shutil.rmtree(i.root, ignore_errors=True)
    remove_objects(prefix)


def remove_objects(prefix):
    keys = t.keys_under(prefix)
    bucket = os.environ.get("COFFER_TEST_S3_BUCKET", "coffer-test")
    for start in range(0, len(keys), 1000):
        t.s3().delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[start:start + 1000]]})


if __name__ == "__main__":
    main()
