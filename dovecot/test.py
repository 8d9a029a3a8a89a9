#!/usr/bin/env python3
"""Dovecot with mail attachments kept in S3 through libfs_coffer.so, end to end, on Dovecot 2.3
or 2.4 and on either mail format that keeps attachments apart (sdbox, mdbox).

Starts a Dovecot instance of its own (config, base_dir, users in two domains, loopback ports, its
default vsz_limit) on this machine or inside a Debian root (--root, scripts/debian-root 13), with
the attachments through the driver on the S3 server of COFFER_TEST_S3_*, then:
- 2.4: `doveconf -n` shows the driver's declared settings, and refuses a bad value and an
  unknown setting by name (the settings module);
- `doveadm fs put/stat/get/iter/copy/delete` with the driver round-trip a file (2.3: the driver
  and its arguments; 2.4: the filter `mail_ext_attachment` of a config that names the driver);
- messages with a 300 KiB attachment, for a user of each domain, delivered over LMTP
  (smtplib.LMTP), read back over IMAP (imaplib): BODY[] is the bytes delivered, a partial
  BODY[]<start.length> is right, BODYSTRUCTURE names the attachment;
- the attachments are objects under each domain's own key prefix (boto3 lists and reads them),
  encrypted (ciphertext only; the independent reader of the format decrypts them), and none of
  them is on local disk;
- IMAP COPY and MOVE to another mailbox read back exactly;
- each call to S3 is a Dovecot event that a `metric` block counts (`doveadm stats dump`);
- expunge (sdbox) or expunge and `doveadm purge` (mdbox) delete an attachment's object;
- S3 down: LMTP defers, a FETCH fails within the bound, and once S3 is back nothing is lost;
- a tenant per domain: a domain with a wrong secret, or with no entry, is deferred while
  another is served;
- sis over the driver is refused at start (2.3; 2.4's sis is read-only);
- an attachment kept by the posix driver moves in with `doveadm fs put` and reads back over IMAP.

Run as root (it installs the driver into Dovecot's module folder and starts Dovecot):
  eval "$(scripts/garage-up)"
  python3 dovecot/test.py --format sdbox "$(dovecot/build)"
  python3 dovecot/test.py --format mdbox --root "$(scripts/debian-root 13)" \
      "$(dovecot/build --root "$(scripts/debian-root 13)")"
Prints "dovecot: N passed, 0 failed" and exits 0 when every check holds.
"""
import argparse
import base64
import email.message
import imaplib
import os
import pathlib
import pwd
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import boto3
from botocore.config import Config

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests" / "peer"))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import coffer_decrypt  # noqa: E402 - the independent reading of Coffer's encryption format

from instance import Dovecot, Fs, free_port  # noqa: E402 - beside this file

# The template tenant is encrypted: the bucket must hold only ciphertext of the attachments.
KEY_ID, KEY = "dovecot-test", os.urandom(32)
checks = {"passed": 0, "failed": 0}
# The Dovecot under test and the mail format (sdbox or mdbox): set by main().
DV, FORMAT = None, None


def check(cond, what):
    checks["passed" if cond else "failed"] += 1
    print(("ok    " if cond else "FAIL  ") + what, flush=True)


class Switch:
    """A TCP forwarder in front of the S3 server that can be turned off: then each connection
    is closed at once, as a server that is down refuses it."""

    def __init__(self, upstream):
        host, port = upstream.split("//", 1)[1].rsplit(":", 1)
        self.upstream, self.up = (host, int(port)), True
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            client, _ = self.listener.accept()
            if not self.up:
                client.close()
                continue
            server = socket.create_connection(self.upstream)
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self.pump, args=(a, b), daemon=True).start()

    @staticmethod
    def pump(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def s3():
    return boto3.client(
        "s3", endpoint_url=os.environ["COFFER_TEST_S3_ENDPOINT"], region_name=os.environ.get("COFFER_TEST_S3_REGION", "us-east-1"),
        aws_access_key_id=os.environ["COFFER_TEST_S3_ACCESS_KEY"], aws_secret_access_key=os.environ["COFFER_TEST_S3_SECRET_KEY"],
        config=Config(s3={"addressing_style": "path"}))


def keys_under(prefix):
    pages = s3().get_paginator("list_objects_v2").paginate(Bucket=os.environ.get("COFFER_TEST_S3_BUCKET", "coffer-test"), Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def tenant(name, endpoint, key_prefix, secret=None):
    """A [tenants.NAME] table on the suite's S3 server, with a short timeout and one retry."""
    return f"""[tenants.{name}]
bucket = "{os.environ.get('COFFER_TEST_S3_BUCKET', 'coffer-test')}"
region = "{os.environ.get('COFFER_TEST_S3_REGION', 'us-east-1')}"
endpoint = "{endpoint}"
timeout = "3s"
maxRetries = 1
accessKey = "{os.environ['COFFER_TEST_S3_ACCESS_KEY']}"
secretKey = "{secret or os.environ['COFFER_TEST_S3_SECRET_KEY']}"
keyPrefix = "{key_prefix}"
"""


# Every call to S3 counted and its bytes summed by Dovecot's statistics, and published by its
# OpenMetrics exporter on this port (docs/dovecot.md, "Statistics").
METRICS_PORT = free_port()
METRIC = f"""
metric coffer_calls {{
  filter = event=fs_coffer_request_finished
  fields = bytes
}}
service stats {{
  inet_listener http {{
    port = {METRICS_PORT}
  }}
}}
"""


def template(root, prefix="{domain}/"):
    """The template tenant of coffer.toml, with a prefix per domain by default."""
    return Fs.coffer(f"{DV.inside(root)}/coffer.toml", "mail", prefix, f"{DV.inside(root)}/cache")


def setup(root, driver, prefix, endpoint):
    DV.install(driver)
    DV.prepare(root)
    secret = os.environ["COFFER_TEST_S3_SECRET_KEY"]
    (root / "coffer.toml").write_text(tenant("mail", endpoint, prefix) + f"""
[tenants.mail.encryption]
key = "{KEY.hex()}"
keyId = "{KEY_ID}"
""")
    # One entry per domain (the tenant named by the domain), one of them with a wrong secret.
    (root / "coffer-domains.toml").write_text(
        tenant('"one.test"', endpoint, prefix + "per-domain/one.test/") + "\n"
        + tenant('"three.test"', endpoint, prefix + "per-domain/three.test/", secret="not-" + secret))
    for name in ["coffer.toml", "coffer-domains.toml"]:
        os.chmod(root / name, 0o644)
    return DV.conf(root, "run", template(root), FORMAT, extra=METRIC)


def deliver(lmtp_port, user, raw):
    """The LMTP reply code for one message to one user: 250 when delivered."""
    try:
        with smtplib.LMTP("127.0.0.1", lmtp_port) as lmtp:
            refused = lmtp.sendmail("sender@example.net", [user], raw)
        return refused.get(user, (250,))[0]
    except smtplib.SMTPDataError as e:
        return e.smtp_code
    except smtplib.SMTPRecipientsRefused as e:
        return e.recipients[user][0]


def inbox(imap_port, user, password):
    """An IMAP session on the instance's port, logged in as user, with INBOX selected; and the
    select's answer (its message count)."""
    imap = imaplib.IMAP4("127.0.0.1", imap_port)
    imap.login(user, password)
    return imap, imap.select("INBOX")


def stored(key):
    return s3().get_object(Bucket=os.environ.get("COFFER_TEST_S3_BUCKET", "coffer-test"), Key=key)["Body"].read()


def message(sender, to, attachment):
    m = email.message.EmailMessage()
    m["From"], m["To"], m["Subject"] = sender, to, "attachment for " + to
    m.set_content("Hello, the attachment follows.\r\n")
    m.add_attachment(attachment, maintype="application", subtype="octet-stream", filename="report.bin")
    return m.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("driver", nargs="?", help="the built libfs_coffer.so (dovecot/build); none with --installed")
    parser.add_argument("--installed", action="store_true", help="test the driver a package installed (scripts/deb-test)")
    parser.add_argument("--format", choices=["sdbox", "mdbox"], required=True)
    parser.add_argument("--root", help="a Debian root whose Dovecot to run (scripts/debian-root 13)")
    args = parser.parse_args()
    if (args.driver is None) != args.installed:
        parser.error("give the driver to test, or --installed")
    global DV, FORMAT
    DV, FORMAT = Dovecot(args.root), args.format
    print(f"dovecot: {DV}, {FORMAT}", flush=True)
    driver = None if args.installed else pathlib.Path(args.driver).resolve()
    prefix = f"dovecot-{FORMAT}-{os.getpid()}-{int(time.time())}/"
    root = DV.mkdtemp("coffer-dovecot-")
    switch = Switch(os.environ["COFFER_TEST_S3_ENDPOINT"])
    confs = []
    with DV:
        try:
            conf, lmtp_port, imap_port = setup(root, driver, prefix, switch.endpoint)
            confs.append(conf)
            DV.start(conf, imap_port)
            run_checks(root, conf, lmtp_port, imap_port, prefix)
            copy_and_move(imap_port)
            statistics(conf)
            expunge_and_purge(conf, imap_port, prefix)
            s3_down(switch, lmtp_port, imap_port, prefix)
            DV.stop(conf)
            per_domain = Fs.coffer(f"{DV.inside(root)}/coffer-domains.toml", "{domain}", cache=f"{DV.inside(root)}/cache")
            conf, lmtp_port, imap_port = DV.conf(root, "run-domains", per_domain, FORMAT)
            confs.append(conf)
            DV.start(conf, imap_port)
            wrong_credentials(root, lmtp_port, prefix)
            moved_in_from_posix(root, prefix)
        finally:
            for c in confs:
                DV.stop(c)
            log = (root / "dovecot.log").read_text(errors="replace") if (root / "dovecot.log").exists() else ""
            if checks["failed"] or os.environ.get("COFFER_DOVECOT_LOG"):
                print("--- dovecot.log\n" + log[-4000:])
            shutil.rmtree(root, ignore_errors=True)
    print(f"dovecot: {checks['passed']} passed, {checks['failed']} failed")
    sys.exit(1 if checks["failed"] else 0)


def doveadm_fs(root, conf, prefix):
    """doveadm fs with the driver, on the template tenant under the prefix doveadm/."""
    fs = template(root, "doveadm/")
    local = root / "local.bin"
    local.write_bytes(os.urandom(200_000))
    doveadm = lambda op, *args: DV.doveadm_fs(conf, fs, op, *args)
    put = doveadm("put", DV.inside(local), "dir/file1")
    check(put.returncode == 0, f"doveadm fs put ({put.stderr.decode().strip()[:300]})")
    stat = doveadm("stat", "dir/file1")
    check(b"200000" in stat.stdout, f"doveadm fs stat shows the size ({stat.stdout.decode().strip()} {stat.stderr.decode().strip()[:200]})")
    get = doveadm("get", "dir/file1")
    check(get.stdout == local.read_bytes(), "doveadm fs get returns the bytes put")
    listed = doveadm("iter", "dir/")
    check(listed.returncode == 0 and listed.stdout.decode().split() == ["file1"], f"doveadm fs iter lists it ({listed.stdout.decode().strip()} {listed.stderr.decode().strip()[:200]})")
    check(keys_under(prefix + "doveadm/") == [prefix + "doveadm/dir/file1"], "it is an object under the tenant's prefix")
    copied = doveadm("copy", "dir/file1", "dir/file2")
    check(copied.returncode == 0 and doveadm("get", "dir/file2").stdout == local.read_bytes(),
          f"doveadm fs copy makes a second object with the same bytes ({copied.stderr.decode().strip()[:200]})")
    deleted = [doveadm("delete", name) for name in ["dir/file1", "dir/file2"]]
    check(all(d.returncode == 0 for d in deleted) and keys_under(prefix + "doveadm/") == [], "doveadm fs delete removes them")
    exists = doveadm("stat", "dir/file1")
    check(exists.returncode != 0 and "no such object" in exists.stderr.decode(), f"and stat says so ({exists.stderr.decode().strip()[:200]})")
    if DV.v24:
        print("--    sis over the driver: not on 2.4, whose sis is read-only (docs/dovecot.md)", flush=True)
        return
    # sis needs a parent whose copy is a hard link (fast-copy, st_nlink, st_ino); S3 has none.
    sis = DV.doveadm(conf, "fs", "put", "sis", "coffer:" + fs.args23(), DV.inside(local), "dir/ab/cd/abcd-1")
    said = sis.stderr.decode().strip()
    check(sis.returncode != 0 and "sis" in said.lower() and keys_under(prefix + "doveadm/") == [],
          f"sis over the driver is refused when it starts, and stores nothing ({said[:200]})")


def doveconf(root, conf):
    """2.4: doveconf knows the driver's declared settings from its settings module: `doveconf -n`
    shows them, and refuses a bad value or an unknown setting, naming it."""
    shown = DV.run("doveconf", "-n", "-c", DV.inside(conf))
    text = shown.stdout.decode()
    check(shown.returncode == 0 and "fs coffer {" in text and "tenant = mail" in text,
          f"doveconf -n shows the driver's settings ({shown.stderr.decode().strip()[:200]})")
    for bad, named in [("fs_coffer_config = coffer.toml", "fs_coffer_config: must be an absolute path"),
                       ("fs_coffer_bucket = other", "fs_coffer_bucket: Unknown setting")]:
        wrong = root / "dovecot-wrong.conf"
        wrong.write_text(conf.read_text().replace("fs_coffer_tenant = mail", f"fs_coffer_tenant = mail\n{bad}", 1))
        refused = DV.run("doveconf", "-n", "-c", DV.inside(wrong))
        said = refused.stderr.decode()
        check(refused.returncode != 0 and named in said, f"doveconf refuses `{bad}`, naming it ({said.strip()[-160:]})")


def run_checks(root, conf, lmtp_port, imap_port, prefix):
    if DV.v24:
        doveconf(root, conf)
    doveadm_fs(root, conf, prefix)
    # Delivery over LMTP, for a user of each domain.
    users = {"alice@one.test": "secret1", "bob@two.test": "secret2"}
    delivered, attachments = {}, {}
    for user in users:
        attachment = attachments[user] = os.urandom(300 * 1024)
        raw = message("sender@example.net", user, attachment)
        with smtplib.LMTP("127.0.0.1", lmtp_port) as lmtp:
            refused = lmtp.sendmail("sender@example.net", [user], raw)
        check(not refused, f"LMTP delivers to {user}")
        delivered[user] = raw
    for user, domain in [("alice@one.test", "one.test"), ("bob@two.test", "two.test")]:
        objects = keys_under(f"{prefix}{domain}/")
        check(len(objects) == 1, f"{user}'s attachment is one object under {prefix}{domain}/ ({objects})")
        if objects:
            ciphertext_only(objects[0], attachments[user], user)
    local_files = [p for p in (root / "home").rglob("*") if p.is_file() and p.stat().st_size >= 300 * 1024]
    check(local_files == [], f"no attachment is on local disk ({local_files})")

    # Read back over IMAP.
    for user, password in users.items():
        imap, _ = inbox(imap_port, user, password)
        typ, data = imap.fetch("1", "(BODY.PEEK[])")
        body = data[0][1] if typ == "OK" else b""
        # LMTP puts Return-Path, Delivered-To and Received in front of what it was given.
        added = body[: len(body) - len(delivered[user])]
        check(body.endswith(delivered[user]) and added.startswith(b"Return-Path:") and b"\r\n\r\n" not in added,
              f"IMAP BODY[] of {user}'s message is the bytes delivered, after LMTP's trace headers ({len(body)} bytes)")
        start = len(body) // 2
        typ, data = imap.fetch("1", f"(BODY.PEEK[]<{start}.1000>)")
        part = data[0][1] if typ == "OK" else b""
        check(part == body[start:start + 1000], f"a partial BODY[]<{start}.1000> of {user}'s is right")
        typ, data = imap.fetch("1", "(BODYSTRUCTURE)")
        check(typ == "OK" and b"report.bin" in data[0] and b"APPLICATION" in data[0].upper(), "BODYSTRUCTURE names the attachment")
        imap.logout()


def ciphertext_only(key, attachment, user):
    """The object holds no byte of the attachment in the clear, and decrypted by the independent
    reader of Coffer's format it is the attachment (as Dovecot stores it: decoded from base64,
    or still in it)."""
    sealed = stored(key)
    encoded = base64.b64encode(attachment)
    clear = attachment[:64] in sealed or encoded[:76] in sealed
    check(sealed[:7] == b"COFFERE" and not clear, f"{user}'s attachment object is ciphertext only (Coffer's header, no plaintext)")
    try:
        plain = coffer_decrypt.decrypt(sealed, key, {KEY_ID: KEY})
    except Exception as e:  # noqa: BLE001 - any failure is the answer
        plain = f"{type(e).__name__}: {e}".encode()
    check(plain == attachment or encoded[:4096] in plain.replace(b"\r\n", b"").replace(b"\n", b""),
          f"and decrypted without Coffer it is the attachment ({len(plain)} bytes)")


def copy_and_move(imap_port):
    """IMAP COPY of alice's message to another mailbox, then MOVE of the copy to a third: each
    reads back byte for byte as the original (sdbox renames and copies attachments; mdbox
    references them)."""
    imaplib.Commands.setdefault("MOVE", ("SELECTED",))
    imap, _ = inbox(imap_port, "alice@one.test", "secret1")
    original = imap.fetch("1", "(BODY.PEEK[])")[1][0][1]
    for box in ["Archive", "Moved"]:
        imap.create(box)
    typ, _ = imap.copy("1", "Archive")
    imap.select("Archive")
    copied = imap.fetch("1", "(BODY.PEEK[])")
    check(typ == "OK" and copied[0] == "OK" and copied[1][0][1] == original, "IMAP COPY to another mailbox reads back exactly")
    typ, _ = imap._simple_command("MOVE", "1", "Moved")
    left = imap.select("Archive")[1][0]
    imap.select("Moved")
    moved = imap.fetch("1", "(BODY.PEEK[])")
    check(typ == "OK" and left == b"0" and moved[0] == "OK" and moved[1][0][1] == original,
          "IMAP MOVE of the copy to a third reads back exactly, and leaves none behind")
    imap.logout()


def statistics(conf):
    """Each call to S3 is a Dovecot event, fs_coffer_request_finished, with its bytes: the
    config's `metric coffer_calls` block counts the calls so far and sums their bytes."""
    dump = DV.doveadm(conf, "-f", "tab", "stats", "dump")
    rows = [line.split("\t") for line in dump.stdout.decode().splitlines()]
    header = rows[0] if rows else []
    calls = [dict(zip(header, row)) for row in rows[1:] if row and row[0] == "coffer_calls"]
    counted = {row.get("field"): row for row in calls}
    count = int(counted.get("duration", {}).get("count", 0))
    summed = int(counted.get("bytes", {}).get("sum", 0))
    check(count > 0 and summed >= 2 * 300 * 1024, f"Dovecot's statistics count the driver's calls ({count}) and "
          f"their bytes ({summed}) ({dump.stderr.decode().strip()[:200]})")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=10) as answer:
            published = answer.read().decode()
    except OSError as e:
        published = f"{type(e).__name__}: {e}"
    lines = [line for line in published.splitlines() if line.startswith("dovecot_coffer_calls")]
    check(any(line.split()[-1] not in ("0", "0.0") for line in lines),
          f"and its OpenMetrics exporter publishes them ({lines[:3] or published[:200]})")


def expunge_and_purge(conf, imap_port, prefix):
    """Expunging a message removes its attachment's object from the bucket: at once with sdbox,
    and with mdbox (whose files hold many messages) at `doveadm purge`."""
    imap, _ = inbox(imap_port, "bob@two.test", "secret2")
    imap.store("1:*", "+FLAGS", "(\\Deleted)")
    typ, _ = imap.expunge()
    imap.logout()
    left = keys_under(f"{prefix}two.test/")
    if FORMAT == "sdbox":
        check(typ == "OK" and left == [], f"an expunged message's attachment object is deleted at once (sdbox) ({left})")
    else:
        check(typ == "OK" and len(left) == 1, "an expunged message's attachment stays until the purge (mdbox)")
    purged = DV.doveadm(conf, "purge", "-u", "bob@two.test")
    left = keys_under(f"{prefix}two.test/")
    check(purged.returncode == 0 and left == [], f"after doveadm purge, its object is gone from the bucket ({left} {purged.stderr.decode().strip()[:200]})")


def logged(root, wanted, wait=5.0):
    """The lines of the instance's log that wanted accepts, waiting up to wait seconds for one:
    Dovecot's log process writes a line a moment after the process that logged it answered."""
    deadline = time.monotonic() + wait
    while True:
        log = (root / "dovecot.log").read_text(errors="replace")
        lines = [line for line in log.splitlines() if wanted(line)]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def wrong_credentials(root, lmtp_port, prefix):
    """With a tenant per domain (the tenant named by the domain), a domain whose secret is wrong is deferred, and
    nothing of it is stored, while another domain is served by the same Dovecot."""
    raw = message("sender@example.net", "carol@three.test", os.urandom(300 * 1024))
    code = deliver(lmtp_port, "carol@three.test", raw)
    check(400 <= code < 500, f"a domain with a wrong secret is deferred: LMTP {code}")
    check(keys_under(f"{prefix}per-domain/three.test/") == [], "and nothing of its message is stored")
    named = logged(root, lambda l: "three.test" in l and "access denied" in l.lower())
    check(bool(named), f"Dovecot's log names the tenant and the refusal ({named[-1][-200:] if named else 'no such line'})")
    code = deliver(lmtp_port, "bob@two.test", message("sender@example.net", "bob@two.test", os.urandom(300 * 1024)))
    named = logged(root, lambda l: "two.test" in l and "coffer" in l)
    check(400 <= code < 500 and bool(named), f"a domain with no entry is deferred too: LMTP {code}, "
          f"and the log names it ({named[-1][-200:] if named else 'no such line'})")
    code = deliver(lmtp_port, "alice@one.test", message("sender@example.net", "alice@one.test", os.urandom(300 * 1024)))
    check(code == 250, f"while the same Dovecot delivers to another domain, with its own tenant: LMTP {code}")
    check(len(keys_under(f"{prefix}per-domain/one.test/")) == 1, "whose attachment is one object under that tenant's keyPrefix")


def moved_in_from_posix(root, prefix):
    """Attachments that Dovecot's posix driver kept on local disk move into the bucket with
    `doveadm fs put` (docs/dovecot.md, "Moving attachments in"); once the config names the
    driver, IMAP reads the old message exactly, with the local files gone."""
    old = root / "migrate"
    DV.prepare(old, owned=("home", "cache", "attachments"))
    moved = template(root, "moved/one.test/")
    conf, lmtp_port, imap_port = DV.conf(old, "run-posix", Fs.posix(), FORMAT, f"{DV.inside(old)}/attachments/%d")
    DV.start(conf, imap_port)
    raw = message("sender@example.net", "alice@one.test", os.urandom(300 * 1024))
    code = deliver(lmtp_port, "alice@one.test", raw)
    DV.stop(conf)
    domain_dir = old / "attachments" / "one.test"
    files = [p for p in domain_dir.rglob("*") if p.is_file() and "hashes" not in p.parts]
    check(code == 250 and len(files) == 1, f"with posix, the attachment is a file on local disk ({len(files)})")
    for f in files:
        put = DV.doveadm_fs(conf, moved, "put", DV.inside(f), f"/attachments/{f.relative_to(domain_dir)}")
        check(put.returncode == 0, f"doveadm fs put moves it in ({put.stderr.decode().strip()[:200]})")
    shutil.rmtree(old / "attachments")
    conf, lmtp_port, imap_port = DV.conf(old, "run-coffer", template(root, "moved/{domain}/"), FORMAT)
    DV.start(conf, imap_port)
    try:
        imap, _ = inbox(imap_port, "alice@one.test", "secret1")
        typ, data = imap.fetch("1", "(BODY.PEEK[])")
        imap.logout()
        check(typ == "OK" and data[0][1].endswith(raw), "and with the driver named, IMAP reads the old message exactly")
        check(len(keys_under(f"{prefix}moved/one.test/attachments/")) == len(files), "from the object the move made")
    finally:
        DV.stop(conf)


def s3_down(switch, lmtp_port, imap_port, prefix):
    """S3 unreachable during a delivery: LMTP answers a temporary failure and the message is not
    acknowledged; once S3 is back, the same message is delivered and reads back exactly. A FETCH
    while S3 is down fails with an IMAP error, not a hang or wrong bytes."""
    raw = message("sender@example.net", "alice@one.test", os.urandom(300 * 1024))
    before = len(keys_under(f"{prefix}one.test/"))
    switch.up = False
    started = time.monotonic()
    code = deliver(lmtp_port, "alice@one.test", raw)
    took = time.monotonic() - started
    check(400 <= code < 500, f"with S3 down, LMTP defers the delivery: {code} (in {took:.1f} s)")
    imap, _ = inbox(imap_port, "alice@one.test", "secret1")
    started = time.monotonic()
    try:
        typ, data = imap.fetch("1", "(BODY.PEEK[])")
        fetched = typ == "OK" and data[0] is not None and isinstance(data[0], tuple)
    except imaplib.IMAP4.error:
        fetched = False
    check(not fetched and time.monotonic() - started < 30, "with S3 down, a FETCH of a message with an attachment fails with an IMAP error, within the bound")
    try:
        imap.logout()
    except imaplib.IMAP4.abort:
        pass  # Dovecot ends the session after a read error of a message's body

    switch.up = True
    check(deliver(lmtp_port, "alice@one.test", raw) == 250, "once S3 is back, the same message is delivered")
    imap, (typ, count) = inbox(imap_port, "alice@one.test", "secret1")
    typ, data = imap.fetch(count[0].decode(), "(BODY.PEEK[])")
    check(typ == "OK" and data[0][1].endswith(raw), "and reads back exactly")
    check(int(count[0]) == 2, f"and the deferred try left no message behind ({count[0].decode()} in INBOX)")
    imap.logout()
    after = len(keys_under(f"{prefix}one.test/"))
    check(after == before + 1, f"one attachment object more, none from the failed try ({before} then {after})")


if __name__ == "__main__":
    main()
