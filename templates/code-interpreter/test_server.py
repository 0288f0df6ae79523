"""Self-test of server.py against real kernels over HTTP on a loopback port (no network beyond it).

Run: python3 server.py --self-test   (or python3 -m unittest test_server, from this folder)
Needs python3-jupyter-client and python3-ipykernel, as the template has.
"""

import http.client
import json
import os
import socket
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.cwd = tempfile.mkdtemp(prefix="ci-selftest-")
        cls.thread = threading.Thread(target=server.serve, args=("127.0.0.1", cls.port, cls.cwd, True), daemon=True)
        cls.thread.start()
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if cls.call("GET", "/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("the server did not answer within 60 s")

    @classmethod
    def call(cls, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", cls.port, timeout=60)
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body),
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            return r.status, (json.loads(data) if data else None), r.reason
        finally:
            conn.close()

    def execute(self, code, **extra):
        """(lines, arrival times relative to the request) of one /execute."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            t0 = time.monotonic()
            conn.request("POST", "/execute", body=json.dumps(dict(code=code, **extra)),
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            self.assertEqual(r.status, 200, r.reason)
            self.assertEqual(r.getheader("Content-Type"), "application/x-ndjson")
            lines, times = [], []
            while True:
                raw = r.readline()
                if not raw:
                    break
                lines.append(json.loads(raw))
                times.append(time.monotonic() - t0)
            return lines, times
        finally:
            conn.close()

    @staticmethod
    def of(lines, kind):
        return [line for line in lines if line["type"] == kind]

    def test_result_text_and_execution_count(self):
        lines, _ = self.execute("x = 1+1\nx")
        results = self.of(lines, "result")
        self.assertEqual(len(results), 1, lines)
        self.assertEqual(results[0]["text"], "2")
        self.assertTrue(results[0]["is_main_result"])
        self.assertTrue(self.of(lines, "number_of_executions")[0]["execution_count"] >= 1)
        self.assertEqual(lines[-1], {"type": "end_of_execution"})

    def test_a_str_result_is_shown_without_quotes(self):
        lines, _ = self.execute("'hello'")
        self.assertEqual(self.of(lines, "result")[0]["text"], "hello")

    def test_stdout_streams_before_the_cell_ends(self):
        lines, times = self.execute("import sys, time\nprint('first', flush=True)\ntime.sleep(1.5)\n"
                                    "print('second')\nprint('oops', file=sys.stderr)")
        stdout = self.of(lines, "stdout")
        self.assertEqual("".join(s["text"] for s in stdout), "first\nsecond\n")
        self.assertEqual("".join(s["text"] for s in self.of(lines, "stderr")), "oops\n")
        first = next(i for i, line in enumerate(lines) if line["type"] == "stdout")
        self.assertLess(times[first] + 1.0, times[-1], "the first line came before the sleep ended")

    def test_an_exception_is_an_error_line(self):
        lines, _ = self.execute("def f():\n    raise ValueError('bad value')\nf()")
        errors = self.of(lines, "error")
        self.assertEqual(len(errors), 1, lines)
        self.assertEqual(errors[0]["name"], "ValueError")
        self.assertEqual(errors[0]["value"], "bad value")
        self.assertIn("raise ValueError('bad value')", errors[0]["traceback"])
        self.assertNotIn("\x1b[", errors[0]["traceback"], "no terminal colours")

    def test_state_is_kept_and_contexts_are_isolated(self):
        self.execute("kept = 41")
        self.assertEqual(self.of(self.execute("kept + 1")[0], "result")[0]["text"], "42")
        status, ctx, _ = self.call("POST", "/contexts", {"language": "python", "cwd": "/tmp"})
        self.assertEqual(status, 200)
        self.assertEqual((ctx["language"], ctx["cwd"]), ("python", "/tmp"))
        lines, _ = self.execute("kept", context_id=ctx["id"])
        self.assertEqual(self.of(lines, "error")[0]["name"], "NameError", lines)
        lines, _ = self.execute("import os\nos.getcwd()", context_id=ctx["id"])
        self.assertEqual(self.of(lines, "result")[0]["text"], "/tmp")
        status, listed, _ = self.call("GET", "/contexts")
        self.assertIn(ctx["id"], [c["id"] for c in listed])
        self.execute("in_restarted = 1", context_id=ctx["id"])
        self.assertEqual(self.call("POST", "/contexts/%s/restart" % ctx["id"])[0], 204)
        lines, _ = self.execute("in_restarted", context_id=ctx["id"])
        self.assertEqual(self.of(lines, "error")[0]["name"], "NameError", "a restart starts a fresh kernel")
        self.assertEqual(self.call("DELETE", "/contexts/%s" % ctx["id"])[0], 204)
        self.assertEqual(self.call("DELETE", "/contexts/%s" % ctx["id"])[0], 404)
        status, _, reason = self.call("POST", "/execute", {"code": "1", "context_id": ctx["id"]})
        self.assertEqual(status, 404)
        self.assertIn("not found", reason)

    def test_env_vars_apply_to_one_execution(self):
        lines, _ = self.execute("import os\nos.environ.get('SBX_ONE')", env_vars={"SBX_ONE": "yes"})
        self.assertEqual(self.of(lines, "result")[0]["text"], "yes")
        lines, _ = self.execute("import os\nos.environ.get('SBX_ONE')")
        self.assertEqual(self.of(lines, "result"), [], "None has no result: the variable is gone again")

    def test_display_data_is_not_the_main_result(self):
        lines, _ = self.execute("from IPython.display import display, HTML\ndisplay(HTML('<b>x</b>'))\n3")
        results = self.of(lines, "result")
        self.assertEqual([(r["is_main_result"], r.get("html"), r.get("text")) for r in results],
                         [(False, "<b>x</b>", "<IPython.core.display.HTML object>"), (True, None, "3")])

    def test_bash_streams_and_fails_on_a_non_zero_exit(self):
        lines, _ = self.execute("echo hi from bash; echo to-err >&2", language="bash")
        self.assertEqual("".join(s["text"] for s in self.of(lines, "stdout")), "hi from bash\n", lines)
        self.assertEqual("".join(s["text"] for s in self.of(lines, "stderr")), "to-err\n", lines)
        lines, _ = self.execute("exit 3", language="bash")
        self.assertEqual(self.of(lines, "error")[0]["name"], "CalledProcessError", lines)

    def test_an_unknown_language_is_refused_by_name(self):
        status, body, reason = self.call("POST", "/execute", {"code": "1", "language": "r"})
        self.assertEqual(status, 400)
        self.assertIn("language 'r' is not available", reason)
        self.assertIn("python", body["error"])
        status, _, reason = self.call("POST", "/contexts", {"language": "javascript"})
        self.assertEqual(status, 400)
        self.assertIn("'javascript'", reason)

    def test_a_client_that_goes_away_interrupts_its_cell(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request("POST", "/execute", body=json.dumps({"code": "import time\nfor _ in range(60): time.sleep(1)"}),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        self.assertEqual(json.loads(r.readline())["type"], "number_of_executions")
        conn.sock.shutdown(socket.SHUT_RDWR)
        conn.close()
        t0 = time.monotonic()
        lines, _ = self.execute("'after'")
        self.assertEqual(self.of(lines, "result")[0]["text"], "after")
        self.assertLess(time.monotonic() - t0, 10, "the sleeping cell was interrupted, not waited for")

    def test_a_dead_kernel_is_reported_then_restarted(self):
        status, ctx, _ = self.call("POST", "/contexts", {})
        self.assertEqual(status, 200)
        self.execute("before = 1", context_id=ctx["id"])
        lines, _ = self.execute("import os\nos._exit(1)", context_id=ctx["id"])
        self.assertEqual(self.of(lines, "error")[0]["name"], "KernelDied", lines)
        lines, _ = self.execute("'before' in globals()", context_id=ctx["id"])
        self.assertIn("restarted", "".join(s["text"] for s in self.of(lines, "stderr")))
        self.assertEqual(self.of(lines, "result")[0]["text"], "False")
        self.call("DELETE", "/contexts/%s" % ctx["id"])

    def test_bad_requests(self):
        self.assertEqual(self.call("POST", "/execute", {"language": "python"})[0], 400)
        self.assertEqual(self.call("GET", "/nope")[0], 404)


if __name__ == "__main__":
    unittest.main()
