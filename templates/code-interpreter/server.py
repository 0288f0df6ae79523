#!/usr/bin/env python3
"""The code-interpreter template's server: what the `@e2b/code-interpreter` SDKs call on port 49999.

Each context is one Jupyter kernel, driven with jupyter_client (Debian's python3-jupyter-client and
python3-ipykernel; nothing from PyPI). One default context per language is started on first use (Python's at
start-up, before the port is bound, so a sandbox whose port answers can run code at once).

Endpoints (JSON bodies):
  GET    /health                  200 "ok"
  POST   /execute                 {code, context_id?, language?, env_vars?} -> NDJSON lines, streamed as they come
  POST   /contexts                {language?, cwd?} -> {id, language, cwd}
  GET    /contexts                -> [{id, language, cwd}, ...]
  DELETE /contexts/<id>           204
  POST   /contexts/<id>/restart   204 (a fresh kernel, same id)

Lines of /execute, one JSON object each: {"type": "number_of_executions", "execution_count"},
{"type": "stdout"|"stderr", "text", "timestamp"}, {"type": "result", "is_main_result", "text", "html", ...},
{"type": "error", "name", "value", "traceback"}, and last {"type": "end_of_execution"}.

Only the standard library besides jupyter_client. Run `python3 server.py --self-test` to check it against a real
kernel without a network.
"""

import argparse
import datetime
import json
import logging
import os
import queue
import select
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = logging.getLogger("code-interpreter")

# language -> (kernelspec name, how a cell is wrapped for that kernel). bash runs each cell through IPython's
# %%bash magic in a Python kernel: its output streams, a non-zero exit is an error, but no shell state (variables,
# cwd) carries from one cell to the next. Other languages are refused by name.
LANGUAGES = {
    "python": ("python3", None),
    "bash": ("python3", "bash"),
}
ALIASES = {"python3": "python", "py": "python", "sh": "bash", "shell": "bash"}

# MIME type of a Jupyter display bundle -> the result field the SDKs read; other types are passed under their own
# name (the SDKs keep unknown fields as `extra`).
MIME_FIELDS = {
    "text/plain": "text",
    "text/html": "html",
    "text/markdown": "markdown",
    "image/svg+xml": "svg",
    "image/png": "png",
    "image/jpeg": "jpeg",
    "application/pdf": "pdf",
    "text/latex": "latex",
    "application/json": "json",
    "application/javascript": "javascript",
}

KERNEL_START_TIMEOUT = 60
POLL_SECONDS = 0.5


class RequestError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def normalize_language(language):
    if language is None or language == "":
        return "python"
    lang = str(language).strip().lower()
    lang = ALIASES.get(lang, lang)
    if lang not in LANGUAGES:
        raise RequestError(400, "language '%s' is not available in this template (it runs: %s)"
                           % (language, ", ".join(sorted(LANGUAGES))))
    return lang


def result_line(content, is_main):
    line = {"type": "result", "is_main_result": is_main}
    for mime, value in (content.get("data") or {}).items():
        field = MIME_FIELDS.get(mime, mime)
        if field == "text" and isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]  # a str's repr: the SDKs show the string itself
        line[field] = value
    return line


def iopub_line(msg):
    """One kernel iopub message -> the line the SDKs read, or None for messages they have no use for."""
    kind = msg["msg_type"]
    content = msg["content"]
    if kind == "stream":
        name = content.get("name")
        if name in ("stdout", "stderr"):
            return {"type": name, "text": content.get("text", ""), "timestamp": _stamp(msg)}
    elif kind == "execute_result":
        return result_line(content, True)
    elif kind == "display_data":
        return result_line(content, False)
    elif kind == "error":
        return {"type": "error", "name": content.get("ename", ""), "value": content.get("evalue", ""),
                "traceback": "\n".join(content.get("traceback") or [])}
    elif kind == "execute_input":
        return {"type": "number_of_executions", "execution_count": content.get("execution_count")}
    return None


def _stamp(msg):
    date = msg.get("header", {}).get("date")
    if isinstance(date, datetime.datetime):
        return date.isoformat()
    return date if isinstance(date, str) else datetime.datetime.now(datetime.timezone.utc).isoformat()


class Context:
    """One kernel and its client. Executions in a context run one at a time (its lock)."""

    def __init__(self, context_id, language, cwd, default=False):
        from jupyter_client import KernelManager  # imported here so that --help works without it

        self.id = context_id
        self.language = language
        self.cwd = cwd
        self.default = default
        self.lock = threading.Lock()
        kernel_name, self.wrap = LANGUAGES[language]
        # ipykernel's debugger otherwise warns about frozen modules on every kernel start (restarts included)
        os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
        self.manager = KernelManager(kernel_name=kernel_name)
        self.manager.start_kernel(cwd=cwd, extra_arguments=["--colors=NoColor"])
        self.client = None
        self._connect()

    def _connect(self):
        if self.client is not None:
            self.client.stop_channels()
        self.client = self.manager.blocking_client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=KERNEL_START_TIMEOUT)

    def describe(self):
        return {"id": self.id, "language": self.language, "cwd": self.cwd}

    def restart(self):
        with self.lock:
            self._restart()

    def _restart(self):
        self.manager.restart_kernel(now=True)  # also for a dead one: same connection file and arguments
        self._connect()

    def shutdown(self):
        with self.lock:
            try:
                self.client.stop_channels()
            finally:
                self.manager.shutdown_kernel(now=True)

    def execute(self, code, env_vars, emit, gone=lambda: False):
        """Runs one cell; `emit(line)` gets each line as it comes and may raise OSError when the caller has gone,
        `gone()` says so while the cell is quiet. The kernel is then interrupted and the cell's remaining output
        drained, so that the next cell starts clean."""
        with self.lock:
            if not self.manager.is_alive():
                # It died in an earlier cell (os._exit, out of memory): a fresh one, and the caller is told.
                LOG.info("kernel of context %s is dead: restarting it", self.id)
                self._restart()
                emit({"type": "stderr", "text": "[the kernel of this context had exited; it was restarted and its "
                      "state is lost]\n", "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat()})
            restore = None
            if env_vars:
                restore = self._set_env(env_vars)
            try:
                if self.wrap == "bash":
                    code = "get_ipython().run_cell_magic('bash', '', %r)" % code
                self._run(code, emit, silent=False, gone=gone)
            finally:
                if restore:
                    self._run(restore, lambda _line: None, silent=True)

    def _set_env(self, env_vars):
        env = {str(k): str(v) for k, v in env_vars.items()}
        names = json.dumps(sorted(env))
        self._run("import os as _sbx_os, json as _sbx_json\n"
                  "_sbx_saved = {k: _sbx_os.environ.get(k) for k in _sbx_json.loads(%r)}\n"
                  "_sbx_os.environ.update(_sbx_json.loads(%r))\n" % (names, json.dumps(env)),
                  lambda _line: None, silent=True)
        return ("for _k, _v in _sbx_saved.items():\n"
                "    _sbx_os.environ.pop(_k, None) if _v is None else _sbx_os.environ.__setitem__(_k, _v)\n"
                "del _sbx_saved\n")

    def _run(self, code, emit, silent, gone=lambda: False):
        msg_id = self.client.execute(code, silent=silent, store_history=not silent, allow_stdin=False)
        left = False
        while True:
            try:
                msg = self.client.get_iopub_msg(timeout=POLL_SECONDS)
            except queue.Empty:
                if not self.manager.is_alive():
                    if not left:
                        emit({"type": "error", "name": "KernelDied", "value": "the kernel exited while running this cell",
                              "traceback": ""})
                    return  # no reply will come
                if not left and gone():
                    left = True
                    LOG.info("client went away during a cell of context %s: interrupting it", self.id)
                    self.manager.interrupt_kernel()
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
                break
            line = iopub_line(msg)
            if line is None or left:
                continue
            try:
                emit(line)
            except OSError:
                left = True
                LOG.info("client went away during a cell of context %s: interrupting it", self.id)
                self.manager.interrupt_kernel()
        self._drain_reply(msg_id)

    def _drain_reply(self, msg_id):
        while True:
            try:
                reply = self.client.get_shell_msg(timeout=5)
            except queue.Empty:
                return
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return


class Contexts:
    def __init__(self, cwd):
        self.cwd = cwd
        self.lock = threading.Lock()
        self.by_id = {}
        self.defaults = {}  # language -> context id
        self._starting = {}  # language -> lock, so that a default starts once

    def default(self, language):
        with self.lock:
            cid = self.defaults.get(language)
            if cid in self.by_id:
                return self.by_id[cid]
            start_lock = self._starting.setdefault(language, threading.Lock())
        with start_lock:
            with self.lock:
                cid = self.defaults.get(language)
                if cid in self.by_id:
                    return self.by_id[cid]
            t0 = time.monotonic()
            ctx = Context(str(uuid.uuid4()), language, self.cwd, default=True)
            LOG.info("default %s context %s started in %.2f s", language, ctx.id, time.monotonic() - t0)
            with self.lock:
                self.by_id[ctx.id] = ctx
                self.defaults[language] = ctx.id
            return ctx

    def create(self, language, cwd):
        ctx = Context(str(uuid.uuid4()), language, cwd or self.cwd)
        with self.lock:
            self.by_id[ctx.id] = ctx
        return ctx

    def get(self, context_id):
        with self.lock:
            ctx = self.by_id.get(context_id)
        if ctx is None:
            raise RequestError(404, "context '%s' not found" % context_id)
        return ctx

    def list(self):
        with self.lock:
            return [c.describe() for c in self.by_id.values()]

    def remove(self, context_id):
        with self.lock:
            ctx = self.by_id.pop(context_id, None)
            if ctx is not None and self.defaults.get(ctx.language) == context_id:
                del self.defaults[ctx.language]
        if ctx is None:
            raise RequestError(404, "context '%s' not found" % context_id)
        ctx.shutdown()

    def shutdown(self):
        with self.lock:
            all_contexts = list(self.by_id.values())
            self.by_id.clear()
        for ctx in all_contexts:
            try:
                ctx.shutdown()
            except Exception:  # noqa: BLE001 - best effort at exit
                pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sandboxd-code-interpreter"
    contexts = None  # set by serve()

    def log_message(self, fmt, *args):
        LOG.info("%s %s", self.address_string(), fmt % args)

    # --- plumbing ---------------------------------------------------------------------------------------------
    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0:
            return {}
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            raise RequestError(400, "the request body is not JSON")
        if not isinstance(body, dict):
            raise RequestError(400, "the request body is not a JSON object")
        return body

    def _send(self, status, payload=None, reason=None):
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status, reason)
        if payload is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, err):
        # The JS SDK shows only the status line of most errors, so the reason phrase carries the message too.
        reason = err.message.replace("\r", " ").replace("\n", " ")[:200]
        self._send(err.status, {"error": err.message}, reason=reason)

    def _route(self, method):
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        parts = [p for p in path.split("/") if p]
        try:
            if method == "GET" and parts == ["health"]:
                return self._send(200, "ok")
            if method == "POST" and parts == ["execute"]:
                return self._execute(self._body())
            if parts[:1] == ["contexts"]:
                if method == "POST" and len(parts) == 1:
                    body = self._body()
                    ctx = self.contexts.create(normalize_language(body.get("language")), body.get("cwd"))
                    return self._send(200, ctx.describe())
                if method == "GET" and len(parts) == 1:
                    return self._send(200, self.contexts.list())
                if method == "DELETE" and len(parts) == 2:
                    self.contexts.remove(parts[1])
                    return self._send(204)
                if method == "POST" and len(parts) == 3 and parts[2] == "restart":
                    self.contexts.get(parts[1]).restart()
                    return self._send(204)
            raise RequestError(404, "no route for %s %s" % (method, path))
        except RequestError as e:
            self._error(e)
        except Exception as e:  # noqa: BLE001 - the client gets a 500 naming it, the server keeps serving
            LOG.exception("%s %s failed", method, path)
            self._error(RequestError(500, "%s: %s" % (type(e).__name__, e)))

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")

    def do_DELETE(self):
        self._route("DELETE")

    # --- /execute -----------------------------------------------------------------------------------------------
    def _execute(self, body):
        code = body.get("code")
        if not isinstance(code, str):
            raise RequestError(400, "'code' (a string) is required")
        if body.get("context_id") and body.get("language"):
            raise RequestError(400, "give context_id or language, not both")
        env_vars = body.get("env_vars") or {}
        if not isinstance(env_vars, dict):
            raise RequestError(400, "'env_vars' must be an object")
        if body.get("context_id"):
            ctx = self.contexts.get(body["context_id"])
        else:
            ctx = self.contexts.default(normalize_language(body.get("language")))

        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.flush()

        def emit(line):
            data = (json.dumps(line) + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def gone():
            # The request was read whole, so a readable socket now means the client closed it (or sent junk).
            try:
                readable, _, _ = select.select([self.connection], [], [], 0)
                return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
            except OSError:
                return True

        try:
            try:
                ctx.execute(code, env_vars, emit, gone)
            except OSError:
                raise
            except Exception as e:  # noqa: BLE001 - the status line is gone: the failure is the stream's last line
                LOG.exception("execution in context %s failed", ctx.id)
                emit({"type": "error", "name": type(e).__name__, "value": str(e), "traceback": ""})
            emit({"type": "end_of_execution"})
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.close_connection = True


def serve(host, port, cwd, preload):
    contexts = Contexts(cwd)
    if preload:
        contexts.default("python")  # before the port answers: "port open" means "ready to run code"
    Handler.contexts = contexts
    httpd = ThreadingHTTPServer((host, port), Handler)
    httpd.daemon_threads = True
    LOG.info("serving on %s:%d (cwd %s)", host, port, cwd)
    try:
        httpd.serve_forever()
    finally:
        contexts.shutdown()


def main(argv=None):
    parser = argparse.ArgumentParser(description="The code-interpreter server of sandboxd's code-interpreter template")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=49999)
    parser.add_argument("--cwd", default=None, help="working directory of new contexts (default: $HOME or /)")
    parser.add_argument("--no-preload", action="store_true", help="start the Python kernel on first use")
    parser.add_argument("--self-test", action="store_true", help="run the self-test (test_server.py) and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.self_test:
        import unittest
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        suite = unittest.defaultTestLoader.loadTestsFromName("test_server")
        return 0 if unittest.TextTestRunner(verbosity=2).run(suite).wasSuccessful() else 1
    cwd = args.cwd or os.environ.get("HOME") or "/"
    if not os.path.isdir(cwd):
        cwd = "/"
    serve(args.host, args.port, cwd, not args.no_preload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
