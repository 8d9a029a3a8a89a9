"""A Dovecot test instance of its own, 2.3 or 2.4, on this machine or inside a Debian root
(scripts/debian-root 13), for dovecot/test.py and dovecot/bench.py.

What differs between the two Dovecots is here: the config's syntax (2.4's declared settings,
named filters and %{user | domain} variables), how `doveadm fs` names a filesystem, and the paths
a chrooted Dovecot sees. The checks are written once, in test.py."""
import os
import pathlib
import pwd
import re
import socket
import subprocess
import tempfile
import time

USERS = "alice@one.test:{PLAIN}secret1::::::\nbob@two.test:{PLAIN}secret2::::::\ncarol@three.test:{PLAIN}secret3::::::\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def instance(root, run):
    """What both Dovecots write alike: the instance's own folders, name and loopback address."""
    return f"""base_dir = {root}/{run}
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = coffer-test-{os.getpid()}-{run}
protocols = imap lmtp
listen = 127.0.0.1
ssl = no
"""


def listeners(address_key, lmtp, imap):
    """LMTP and IMAP on the loopback: 2.3 names a listener's address `address`, 2.4 `listen`."""
    return f"""service lmtp {{
  inet_listener lmtp {{
    {address_key} = 127.0.0.1
    port = {lmtp}
  }}
  unix_listener lmtp {{
    mode = 0600
  }}
}}
service imap-login {{
  inet_listener imap {{
    {address_key} = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


class Fs:
    """The filesystem that keeps attachments: Coffer's driver (config file, tenant, optional
    prefix and cache), or Dovecot's posix. A value may hold {domain}, the mail domain, which
    each Dovecot spells its own way."""

    def __init__(self, driver, config=None, tenant=None, prefix=None, cache=None):
        self.driver, self.config, self.tenant, self.prefix, self.cache = driver, config, tenant, prefix, cache

    @staticmethod
    def coffer(config, tenant, prefix=None, cache=None):
        return Fs("coffer", config, tenant, prefix, cache)

    @staticmethod
    def posix():
        return Fs("posix")

    def args23(self):
        """Dovecot 2.3's argument string: config=...:tenant=...[:prefix=...][:cache=...]."""
        pairs = [("config", self.config), ("tenant", self.tenant), ("prefix", self.prefix), ("cache", self.cache)]
        return ":".join(f"{k}={v}" for k, v in pairs if v).replace("{domain}", "%d")

    def settings24(self):
        """Dovecot 2.4's declared settings, one a line."""
        pairs = [("config", self.config), ("tenant", self.tenant), ("prefix", self.prefix), ("cache", self.cache)]
        return "\n".join(f"fs_coffer_{k} = {v}" for k, v in pairs if v).replace("{domain}", "%{user | domain}")


class Dovecot:
    """The Dovecot of root ("/" for this machine's), its version, and how to run it."""

    def __init__(self, root=None):
        self.root = pathlib.Path(root or "/").resolve()
        header = (self.root / "usr/include/dovecot/config.h").read_text()
        self.version = re.search(r'#define DOVECOT_VERSION "([^"]+)"', header).group(1)
        self.v24 = tuple(int(x) for x in self.version.split(".")[:2]) >= (2, 4)
        self.modules = self.root / "usr/lib/dovecot/modules"

    def __str__(self):
        where = "" if self.root == pathlib.Path("/") else f" in {self.root}"
        return f"Dovecot {self.version}{where}"

    def __enter__(self):
        """Inside a root, Dovecot needs /proc and /dev: mounted for the instance's life."""
        if self.root != pathlib.Path("/"):
            for what, args in [("proc", ["-t", "proc", "proc"]), ("dev", ["--bind", "/dev"])]:
                if subprocess.run(["mountpoint", "-q", str(self.root / what)]).returncode != 0:
                    subprocess.run(["mount", *args, str(self.root / what)], check=True)
        return self

    def __exit__(self, *_):
        if self.root != pathlib.Path("/"):
            for what in ["dev", "proc"]:
                subprocess.run(["umount", "-l", str(self.root / what)], capture_output=True)

    def cmd(self, *args):
        return (["chroot", str(self.root)] if self.root != pathlib.Path("/") else []) + [str(a) for a in args]

    def run(self, *args, **kw):
        return subprocess.run(self.cmd(*args), capture_output=True, **kw)

    def inside(self, path):
        """A path on this machine as the (possibly chrooted) Dovecot sees it."""
        return "/" + str(pathlib.Path(path).resolve().relative_to(self.root)).lstrip(".")

    def mkdtemp(self, prefix):
        (self.root / "tmp").mkdir(exist_ok=True)
        return pathlib.Path(tempfile.mkdtemp(prefix=prefix, dir=self.root / "tmp"))

    def install(self, driver):
        """The mail user (the same uid inside a root) and the driver in Dovecot's module folder,
        with 2.4's settings module: links to the build, as Dovecot sees it; or, with driver
        None, the driver a package installed, as it is."""
        if subprocess.run(["id", "vmail"], capture_output=True).returncode != 0:
            subprocess.run(["useradd", "--system", "--no-create-home", "vmail"], check=True)
        vmail = pwd.getpwnam("vmail")
        if self.root != pathlib.Path("/") and self.run("id", "vmail").returncode != 0:
            self.run("groupadd", "--system", "--gid", vmail.pw_gid, "vmail", check=True)
            self.run("useradd", "--system", "--no-create-home", "--uid", vmail.pw_uid, "--gid", vmail.pw_gid, "vmail", check=True)
        if driver is None:
            return
        links = [(self.modules / "libfs_coffer.so", driver)]
        if self.v24:
            links.append((self.modules / "settings/libcoffer_settings.so", driver.parent / "libcoffer_settings.so"))
        for link, target in links:
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(self.inside(target))

    def prepare(self, root, owned=("home", "cache")):
        """An instance's folders under root (those in owned writable by the mail user) and its users."""
        for d in ["run", "state", *owned]:
            (root / d).mkdir(parents=True)
        os.chmod(root, 0o755)
        vmail = pwd.getpwnam("vmail")
        for d in owned:
            os.chown(root / d, vmail.pw_uid, vmail.pw_gid)
        (root / "passwd").write_text(USERS)

    def conf(self, root, run, fs, mail_format, attachment_dir="/attachments", extra=""):
        """A config of its own under root, with base_dir root/run, fresh loopback ports, and the
        mail format (sdbox or mdbox) with attachments kept by fs. Returns its path and the LMTP
        and IMAP ports."""
        (root / run).mkdir(exist_ok=True)
        lmtp, imap = free_port(), free_port()
        conf = root / f"dovecot-{run}.conf"
        render = self.conf24 if self.v24 else self.conf23
        conf.write_text(render(self.inside(root), run, fs, mail_format, attachment_dir, lmtp, imap) + extra)
        return conf, lmtp, imap

    @staticmethod
    def conf23(root, run, fs, mail_format, attachment_dir, lmtp, imap):
        attachment_fs = "posix" if fs.driver == "posix" else "coffer:" + fs.args23()
        return instance(root, run) + f"""disable_plaintext_auth = no
auth_mechanisms = plain
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid=vmail gid=vmail home={root}/home/%d/%n
}}
mail_location = {mail_format}:~/{mail_format}
mail_attachment_dir = {attachment_dir}
mail_attachment_fs = {attachment_fs}
mail_attachment_min_size = 128k
""" + listeners("address", lmtp, imap)

    @staticmethod
    def conf24(root, run, fs, mail_format, attachment_dir, lmtp, imap):
        attachment_fs = "fs posix {\n  }" if fs.driver == "posix" else f"fs coffer {{\n{fs.settings24()}\n  }}"
        return "dovecot_config_version = 2.4.1\ndovecot_storage_version = 2.4.1\n" + instance(root, run) + f"""auth_allow_cleartext = yes
auth_mechanisms = plain
passdb passwd-file {{
  passwd_file_path = {root}/passwd
}}
userdb static {{
  fields {{
    uid = vmail
    gid = vmail
    home = {root}/home/%{{user | domain}}/%{{user | username}}
  }}
}}
mail_driver = {mail_format}
mail_path = ~/{mail_format}
mail_ext_attachment_path = {attachment_dir.replace('%d', '%{user | domain}')}
mail_ext_attachment_min_size = 128k
mail_ext_attachment {{
  {attachment_fs}
}}
""" + listeners("listen", lmtp, imap)

    def doveadm_fs(self, conf, fs, op, *args):
        """`doveadm fs OP` on fs. 2.3 takes the driver and its arguments on the command line; 2.4
        a config filter whose fs list it opens: here mail_ext_attachment, of a config beside conf
        whose attachments fs keeps (doveadm fs needs no running instance)."""
        if not self.v24:
            return self.doveadm(conf, "fs", op, "coffer", fs.args23(), *args)
        root, run = pathlib.Path(conf).parent, f"doveadm-{abs(hash(fs.settings24()))}"
        own = root / f"dovecot-{run}.conf"
        if not own.exists():
            self.conf(root, run, fs, "sdbox")
        return self.doveadm(own, "fs", op, "mail_ext_attachment", *args)

    def doveadm(self, conf, *args):
        return self.run("doveadm", "-c", self.inside(conf), *args)

    def start(self, conf, imap_port):
        subprocess.run(self.cmd("dovecot", "-c", self.inside(conf)), check=True)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", imap_port), 0.2).close()
                return
            except OSError:
                time.sleep(0.1)

    def stop(self, conf):
        self.doveadm(conf, "stop")
