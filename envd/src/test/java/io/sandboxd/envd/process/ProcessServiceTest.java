package io.sandboxd.envd.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.protobuf.ByteString;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.sandboxd.envd.EnvdState;
import io.sandboxd.envd.auth.EnvdAuth;
import io.sandboxd.envd.auth.UserAccount;
import io.sandboxd.envd.auth.UserDatabase;
import io.sandboxd.envd.connect.CallContext;
import io.sandboxd.envd.connect.ConnectCode;
import io.sandboxd.envd.connect.ConnectException;
import io.sandboxd.envd.filesystem.TestUsers;
import io.sandboxd.envd.proto.process.CloseStdinRequest;
import io.sandboxd.envd.proto.process.ConnectRequest;
import io.sandboxd.envd.proto.process.ConnectResponse;
import io.sandboxd.envd.proto.process.ListRequest;
import io.sandboxd.envd.proto.process.PTY;
import io.sandboxd.envd.proto.process.ProcessConfig;
import io.sandboxd.envd.proto.process.ProcessInput;
import io.sandboxd.envd.proto.process.ProcessSelector;
import io.sandboxd.envd.proto.process.SendInputRequest;
import io.sandboxd.envd.proto.process.SendSignalRequest;
import io.sandboxd.envd.proto.process.Signal;
import io.sandboxd.envd.proto.process.StartRequest;
import io.sandboxd.envd.proto.process.StartResponse;
import io.sandboxd.envd.proto.process.UpdateRequest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** process.Process semantics (spec 3.5), driven directly on the service with real children. */
class ProcessServiceTest {
    @TempDir
    Path dir;
    private EnvdState state;
    private EnvdAuth auth;
    private ProcessTable table;
    private ProcessService service;
    private UserAccount root;
    private static final int TESTER_UID = 4242;
    private final java.util.concurrent.ExecutorService workers = java.util.concurrent.Executors.newCachedThreadPool();

    @BeforeEach
    void setUp() throws IOException {
        assumeTrue(isRoot(), "needs root: processes run as the uid/gid of the account in the test passwd file");
        Path home = Files.createDirectories(dir.resolve("home/root"));
        Files.createDirectories(dir.resolve("work/sub"));
        // tester (ids no real account has) must be able to reach its home under the test directory
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwx--x--x"));
        Path testerHome = Files.createDirectories(dir.resolve("home/tester"));
        Files.setAttribute(testerHome, "unix:uid", TESTER_UID);
        Files.writeString(dir.resolve("passwd"), "root:x:0:0:root:" + home + ":/bin/bash\n"
                + "tester:x:" + TESTER_UID + ":" + TESTER_UID + "::" + testerHome + ":/bin/sh\n");
        Files.writeString(dir.resolve("group"), "root:x:0:\ntesters:x:" + TESTER_UID + ":\nextra:x:4250:tester\n");
        state = new EnvdState("root");
        auth = new EnvdAuth(state, new UserDatabase(dir.resolve("passwd"), dir.resolve("group")));
        table = new ProcessTable(500);
        service = new ProcessService(auth, table, workers);
        root = auth.user("root").orElseThrow();
    }

    @AfterEach
    void tearDown() {
        if (table != null) {
            table.close();
        }
        if (service != null) {
            service.close();
        }
        workers.shutdownNow();
    }

    @Test
    void exitCodeAndOutputs() throws Exception {
        RecordingSink<StartResponse> s = start(sh("echo out; echo err >&2; exit 3"), ctx());
        s.awaitClosed();
        assertTrue(s.events().getFirst().hasStart());
        assertEquals("out\n", s.stdout());
        assertEquals("err\n", s.stderr());
        var end = s.end();
        assertEquals(3, end.getExitCode());
        assertTrue(end.getExited());
        assertEquals("exit status 3", end.getStatus());
        assertEquals("exit status 3", end.getError());
        assertNull(s.error());
    }

    @Test
    void successHasNoError() throws Exception {
        var end = start(sh("true"), ctx()).awaitClosed().end();
        assertEquals(0, end.getExitCode());
        assertTrue(end.getExited());
        assertEquals("exit status 0", end.getStatus());
        assertFalse(end.hasError());
    }

    @Test
    void deathBySignalIsMinusOneAndNotExited() throws Exception {
        var end = start(sh("kill -KILL $$"), ctx()).awaitClosed().end();
        assertEquals(-1, end.getExitCode());
        assertFalse(end.getExited());
        assertEquals("signal: killed", end.getStatus());
        assertEquals("signal: killed", end.getError());
        // an exit code of 137 is an exit, not a signal
        assertEquals("exit status 137", start(sh("exit 137"), ctx()).awaitClosed().end().getStatus());
    }

    @Test
    void stdinPipeByDefaultAndDevNullWithStdinFalse() throws Exception {
        RecordingSink<StartResponse> cat = start(StartRequest.newBuilder().setProcess(cmd("/bin/cat")).build(), ctx());
        ProcessSelector pid = ProcessSelector.newBuilder().setPid(cat.pid()).build();
        service.sendInput(SendInputRequest.newBuilder().setProcess(pid)
                .setInput(ProcessInput.newBuilder().setStdin(ByteString.copyFromUtf8("hello\n"))).build(), ctx());
        cat.awaitOutput("hello\n", Duration.ofSeconds(10));
        service.closeStdin(CloseStdinRequest.newBuilder().setProcess(pid).build(), ctx());
        assertEquals(0, cat.awaitClosed().end().getExitCode());

        RecordingSink<StartResponse> devnull = start(StartRequest.newBuilder().setProcess(cmd("/bin/cat")).setStdin(false).build(), ctx());
        devnull.awaitClosed();
        assertEquals("", devnull.stdout());
        assertEquals(0, devnull.end().getExitCode());
    }

    @Test
    void sendInputWithoutStdinIsInternal() throws Exception {
        RecordingSink<StartResponse> s = start(StartRequest.newBuilder().setProcess(sh("sleep 5")).setStdin(false).build(), ctx());
        ConnectException e = assertThrows(ConnectException.class, () -> service.sendInput(SendInputRequest.newBuilder()
                .setProcess(ProcessSelector.newBuilder().setPid(s.pid()))
                .setInput(ProcessInput.newBuilder().setStdin(ByteString.copyFromUtf8("x"))).build(), ctx()));
        assertEquals(ConnectCode.INTERNAL, e.code());
        signal(s.pid(), Signal.SIGNAL_SIGKILL);
        s.awaitClosed();
    }

    @Test
    void environmentMergeOrderLaterWins() throws Exception {
        state.update(x -> new EnvdState.Settings(null, Map.of("A", "sandbox", "B", "sandbox", "USER", "from-sandbox"),
                x.defaultUser(), x.defaultWorkdir()));
        ProcessConfig c = sh("echo \"$A|$B|$USER|$LOGNAME|$HOME|${PATH:+path}\"").toBuilder().putEnvs("B", "request").build();
        RecordingSink<StartResponse> s = start(StartRequest.newBuilder().setProcess(c).build(), ctx()).awaitClosed();
        assertEquals("sandbox|request|from-sandbox|root|" + root.home() + "|path\n", s.stdout());
    }

    @Test
    void cwdRules() throws Exception {
        assertEquals(root.home() + "\n", start(sh("pwd"), ctx()).awaitClosed().stdout(), "default: home");
        state.update(x -> new EnvdState.Settings(null, x.envVars(), x.defaultUser(), dir.resolve("work").toString()));
        assertEquals(dir.resolve("work") + "\n", start(sh("pwd"), ctx()).awaitClosed().stdout(), "default workdir");
        ProcessConfig rel = sh("pwd").toBuilder().setCwd("sub").build();
        assertEquals(dir.resolve("work/sub") + "\n",
                start(StartRequest.newBuilder().setProcess(rel).build(), ctx()).awaitClosed().stdout(), "relative to workdir");
        ProcessConfig tilde = sh("pwd").toBuilder().setCwd("~").build();
        assertEquals(root.home() + "\n", start(StartRequest.newBuilder().setProcess(tilde).build(), ctx()).awaitClosed().stdout());
        ProcessConfig missing = sh("pwd").toBuilder().setCwd("/no/such/dir").build();
        ConnectException e = assertThrows(ConnectException.class,
                () -> service.start(StartRequest.newBuilder().setProcess(missing).build(), ctx(), new RecordingSink<>()));
        assertEquals(ConnectCode.INVALID_ARGUMENT, e.code());
    }

    @Test
    void runsAsTheUsersUidGidAndGroups() throws Exception {
        UserDatabase system = UserDatabase.system();
        UserAccount nobody = system.byName("nobody").orElse(null);
        assumeTrue(nobody != null, "needs the Debian 'nobody' account");
        EnvdAuth sysAuth = new EnvdAuth(new EnvdState("root"), system);
        RecordingSink<StartResponse> s = new RecordingSink<>();
        try (ProcessService svc = new ProcessService(sysAuth, table, workers)) {
            svc.start(StartRequest.newBuilder().setProcess(sh("id -u; id -g; id -G; echo $HOME")).build(),
                    new CallContext("/process.Process/Start", nobody, Long.MAX_VALUE, EmptyHttpHeaders.INSTANCE), s);
            s.awaitClosed();
        }
        String groups = String.join(" ", java.util.Arrays.stream(nobody.groups()).mapToObj(Integer::toString).toList());
        assertEquals(nobody.uid() + "\n" + nobody.gid() + "\n" + groups + "\n" + nobody.home() + "\n", s.stdout());
    }

    @Test
    void anotherUsersPtyIsItsOwnControllingTerminal() throws Exception {
        CallContext tester = new CallContext("/process.Process/Start", auth.user("tester").orElseThrow(), Long.MAX_VALUE,
                EmptyHttpHeaders.INSTANCE);
        StartRequest req = StartRequest.newBuilder().setProcess(cmd("/bin/bash").toBuilder().addArgs("--norc").addArgs("-i"))
                .setPty(PTY.newBuilder().setSize(PTY.Size.newBuilder().setCols(80).setRows(24))).build();
        RecordingSink<StartResponse> s = start(req, tester);
        ProcessSelector pid = ProcessSelector.newBuilder().setPid(s.pid()).build();
        input(pid, "echo \"U=$(id -u) G=$(id -G) T=$(stat -c %u $(tty))\"; test -t 0 && ps -o tty= -p $$ | sed 's/^/CTTY=/'\n");
        s.awaitOutput("U=" + TESTER_UID + " G=" + TESTER_UID + " 4250 T=" + TESTER_UID, Duration.ofSeconds(10));
        s.awaitOutput("CTTY=pts/", Duration.ofSeconds(10));
        input(pid, "exit 5\n");
        assertEquals(5, s.awaitClosed().end().getExitCode());
    }

    @Test
    void aCwdTheUserMayNotEnterIsPermissionDenied() throws Exception {
        CallContext tester = new CallContext("/process.Process/Start", auth.user("tester").orElseThrow(), Long.MAX_VALUE,
                EmptyHttpHeaders.INSTANCE);
        Path rootOnly = Files.createDirectories(dir.resolve("root-only"));
        Files.setPosixFilePermissions(rootOnly, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        ProcessConfig c = sh("pwd").toBuilder().setCwd(rootOnly.toString()).build();
        ConnectException e = assertThrows(ConnectException.class,
                () -> service.start(StartRequest.newBuilder().setProcess(c).build(), tester, new RecordingSink<>()));
        assertEquals(ConnectCode.PERMISSION_DENIED, e.code());
        assertTrue(e.getMessage().contains("tester") && e.getMessage().contains(rootOnly.toString()), e.getMessage());
        // root may, and the tester still may use its home
        assertEquals(rootOnly + "\n", start(StartRequest.newBuilder().setProcess(c).build(), ctx()).awaitClosed().stdout());
        assertEquals(dir.resolve("home/tester") + "\n", start(sh("pwd"), tester).awaitClosed().stdout());
    }

    @Test
    void ptyIsAControllingTerminalThatResizes() throws Exception {
        StartRequest req = StartRequest.newBuilder().setProcess(cmd("/bin/bash").toBuilder().addArgs("--norc").addArgs("-i"))
                .setPty(PTY.newBuilder().setSize(PTY.Size.newBuilder().setCols(90).setRows(30))).build();
        RecordingSink<StartResponse> s = start(req, ctx());
        ProcessSelector pid = ProcessSelector.newBuilder().setPid(s.pid()).build();
        input(pid, "stty size; test -t 0 && echo TTY-$((1+1))\n");
        s.awaitOutput("30 90", Duration.ofSeconds(10));
        s.awaitOutput("TTY-2", Duration.ofSeconds(10));
        service.update(UpdateRequest.newBuilder().setProcess(pid)
                .setPty(PTY.newBuilder().setSize(PTY.Size.newBuilder().setCols(100).setRows(50))).build(), ctx());
        input(pid, "stty size\n");
        s.awaitOutput("50 100", Duration.ofSeconds(10));
        assertEquals(ConnectCode.INTERNAL, assertThrows(ConnectException.class,
                () -> service.closeStdin(CloseStdinRequest.newBuilder().setProcess(pid).build(), ctx())).code());
        input(pid, "exit 4\n");
        assertEquals(4, s.awaitClosed().end().getExitCode());
        assertTrue(s.events().stream().filter(e -> e.hasData()).allMatch(e -> e.getData().hasPty()));
    }

    @Test
    void listTagsConnectAndSignals() throws Exception {
        RecordingSink<StartResponse> s = start(StartRequest.newBuilder().setProcess(sh("echo ready; sleep 30")).setTag("job-1").build(), ctx());
        s.awaitOutput("ready", Duration.ofSeconds(10));
        var listed = service.list(ListRequest.getDefaultInstance(), ctx()).getProcessesList();
        assertTrue(listed.stream().anyMatch(p -> p.getPid() == s.pid() && p.getTag().equals("job-1")
                && p.getConfig().getArgs(1).equals("echo ready; sleep 30")), listed.toString());

        RecordingSink<ConnectResponse> byTag = new RecordingSink<>();
        service.connect(ConnectRequest.newBuilder().setProcess(ProcessSelector.newBuilder().setTag("job-1")).build(), ctx(), byTag);
        assertEquals(s.pid(), byTag.pid());

        assertEquals(ConnectCode.UNIMPLEMENTED, assertThrows(ConnectException.class,
                () -> signal(s.pid(), Signal.SIGNAL_UNSPECIFIED)).code());
        signal(s.pid(), Signal.SIGNAL_SIGTERM);
        assertEquals("signal: terminated", s.awaitClosed().end().getStatus());
        assertEquals("signal: terminated", byTag.awaitClosed().end().getStatus());
        assertEquals(ConnectCode.NOT_FOUND, assertThrows(ConnectException.class,
                () -> signal(s.pid(), Signal.SIGNAL_SIGKILL)).code(), "ended processes cannot be signalled");
        assertFalse(service.list(ListRequest.getDefaultInstance(), ctx()).getProcessesList().stream()
                .anyMatch(p -> p.getPid() == s.pid()));

        // a late Connect still gets start and end while the end is retained
        RecordingSink<ConnectResponse> late = new RecordingSink<>();
        service.connect(ConnectRequest.newBuilder().setProcess(ProcessSelector.newBuilder().setPid(s.pid())).build(), ctx(), late);
        late.awaitClosed();
        assertEquals(2, late.events().size());
        assertEquals("signal: terminated", late.end().getStatus());
        Thread.sleep(800);
        assertEquals(ConnectCode.NOT_FOUND, assertThrows(ConnectException.class, () -> service.connect(ConnectRequest.newBuilder()
                .setProcess(ProcessSelector.newBuilder().setPid(s.pid())).build(), ctx(), new RecordingSink<>())).code());
    }

    @Test
    void clientGoingAwayDoesNotKillButTheDeadlineDoes() throws Exception {
        RecordingSink<StartResponse> bg = start(sh("sleep 0.3; echo finished"), ctx());
        bg.clientGone();
        RecordingSink<ConnectResponse> again = new RecordingSink<>();
        service.connect(ConnectRequest.newBuilder().setProcess(ProcessSelector.newBuilder().setPid(bg.pid())).build(), ctx(), again);
        again.awaitClosed();
        assertEquals("finished\n", again.stdout());
        assertEquals(0, again.end().getExitCode());

        long deadline = System.nanoTime() + Duration.ofMillis(300).toNanos();
        RecordingSink<StartResponse> timed = start(sh("sleep 30"),
                new CallContext("/process.Process/Start", root, deadline, EmptyHttpHeaders.INSTANCE));
        assertEquals("signal: killed", timed.awaitClosed().end().getStatus());
    }

    @Test
    void missingExecutableIsInvalidArgument() {
        ConnectException e = assertThrows(ConnectException.class, () -> service.start(StartRequest.newBuilder()
                .setProcess(cmd("no-such-binary-here")).build(), ctx(), new RecordingSink<>()));
        assertEquals(ConnectCode.INVALID_ARGUMENT, e.code());
    }

    @Test
    void noFdsLeakAcrossManyProcesses() throws Exception {
        start(sh("true"), ctx()).awaitClosed(); // warm up lazily opened JVM fds
        long before = TestUsers.openFds();
        List<RecordingSink<StartResponse>> all = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            all.add(start(sh("echo " + i), ctx()));
            all.add(start(StartRequest.newBuilder().setProcess(sh("echo pty" + i))
                    .setPty(PTY.newBuilder().setSize(PTY.Size.newBuilder().setCols(80).setRows(24))).build(), ctx()));
        }
        for (RecordingSink<StartResponse> s : all) {
            s.awaitClosed();
        }
        assertEquals(before, TestUsers.openFds());
    }

    // ---- helpers -----------------------------------------------------------------------------------------------

    private RecordingSink<StartResponse> start(ProcessConfig config, CallContext ctx) {
        return start(StartRequest.newBuilder().setProcess(config).build(), ctx);
    }

    /** Start runs the process's I/O on the calling worker until it ends, so tests call it on a worker too. */
    private RecordingSink<StartResponse> start(StartRequest req, CallContext ctx) {
        RecordingSink<StartResponse> s = new RecordingSink<>();
        java.util.concurrent.Future<?> f = workers.submit(() -> service.start(req, ctx, s));
        try {
            s.awaitFirstEvent();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        if (s.events().isEmpty()) {
            try {
                f.get();
            } catch (java.util.concurrent.ExecutionException e) {
                throw (RuntimeException) e.getCause();
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
        return s;
    }

    private void input(ProcessSelector pid, String text) {
        service.sendInput(SendInputRequest.newBuilder().setProcess(pid)
                .setInput(ProcessInput.newBuilder().setPty(ByteString.copyFromUtf8(text))).build(), ctx());
    }

    private void signal(int pid, Signal signal) {
        service.sendSignal(SendSignalRequest.newBuilder().setProcess(ProcessSelector.newBuilder().setPid(pid))
                .setSignal(signal).build(), ctx());
    }

    private CallContext ctx() {
        return new CallContext("/process.Process/Start", root, Long.MAX_VALUE, EmptyHttpHeaders.INSTANCE);
    }

    private static ProcessConfig cmd(String cmd) {
        return ProcessConfig.newBuilder().setCmd(cmd).build();
    }

    private static ProcessConfig sh(String script) {
        return ProcessConfig.newBuilder().setCmd("/bin/sh").addArgs("-c").addArgs(script).build();
    }

    private static boolean isRoot() {
        try {
            return Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .anyMatch(l -> l.startsWith("Uid:") && l.substring(4).trim().startsWith("0"));
        } catch (IOException e) {
            return false;
        }
    }
}
