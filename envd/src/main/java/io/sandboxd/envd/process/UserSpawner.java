package io.sandboxd.envd.process;

import io.sandboxd.envd.auth.UserAccount;
import io.sandboxd.ffi.Credentials;
import io.sandboxd.ffi.Prctl;
import io.sandboxd.ffi.Spawn;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.FutureTask;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The one thread that starts children as other users from a root envd, without a helper exec: it switches its own
 * credentials to the user (raw per-thread syscalls, see {@link Credentials}), calls {@code posix_spawn} (the
 * vfork-style child copies the thread's credentials) and switches back to root.
 *
 * <p>It is also the executor {@code Start} calls run on (parse, resolve, spawn, start event), so a command's way
 * from the event loop to its start event crosses no other thread; the child's I/O is then handed to a worker. Only
 * those tasks run here, one at a time, and the switched window lies inside {@link #spawnAs}: nothing else runs on
 * the thread while it is switched. Callers on other threads ({@code Connect}-less tests, a stopped spawner's
 * fallback) get the same spawn as a task for the thread.
 *
 * <p>Order when switching: supplementary groups, then gids, then uids (setgroups and setresgid need CAP_SETGID, which
 * goes with euid 0). The saved uid stays 0 so the thread may return; {@code execve} sets the child's saved uid to
 * its effective uid, so the child ends with all three uids the user's and no capabilities (the thread's ambient set
 * is emptied once at start, and the inheritable set, as with {@code setpriv}, is whatever envd has). Returning:
 * uids first (that brings CAP_SETGID back), then gids and groups, then the process's dumpable flag, which any
 * change of effective uid resets.
 *
 * <p>If switching back fails, the thread stops after its current task and is never replaced (a thread started by a
 * switched thread would inherit the user's credentials); later tasks run on the fallback executor, where
 * {@link #spawn} refuses with the reason. Starting processes as envd's own user keeps working.
 *
 * <p>Known window: while switched (one {@code posix_spawn}, tens of microseconds) the thread's real uid is the
 * user's, so that user's processes may signal the thread, and a fatal signal to one thread ends envd.
 */
final class UserSpawner implements Executor, AutoCloseable {
    private static final Logger LOG = Logger.getLogger(UserSpawner.class.getName());

    private final LinkedBlockingQueue<Runnable> tasks = new LinkedBlockingQueue<>();
    private final Executor fallback;
    private final Thread thread;
    /** Read on the thread at start: what it switches back to. */
    private Credentials.ThreadIds home;
    private boolean dumpable;
    /** Set once the thread no longer runs tasks; {@link #spawn} then refuses with it. */
    private volatile String stopped;

    /**
     * Starts the thread; call from a thread with envd's own (root) credentials.
     *
     * @param fallback runs tasks once this thread has stopped
     */
    UserSpawner(Executor fallback) {
        this.fallback = fallback;
        this.thread = Thread.ofPlatform().daemon().name("envd-spawner").unstarted(this::run);
        thread.start();
    }

    @Override
    public void execute(Runnable task) {
        if (stopped == null) {
            tasks.add(task);
            if (stopped == null) {
                return;
            }
            drainToFallback(); // raced with the thread's stop: nobody else would run it
            return;
        }
        fallback.execute(task);
    }

    /** True on the spawner's own thread (a task it runs). */
    boolean isCurrentThread() {
        return Thread.currentThread() == thread;
    }

    /**
     * Spawns {@code request} as {@code user} (its uid, gid and supplementary groups) and returns the pid: right here
     * on the spawner's thread, else as a task for it, waiting for the result.
     *
     * @throws io.sandboxd.ffi.NativeException the spawn failed (posix_spawn's error: EACCES for a cwd or executable
     *                                         the user may not use, ENOENT...) or the switch was refused
     * @throws IllegalStateException           the thread cannot switch credentials any more
     */
    int spawn(Spawn.Request request, UserAccount user) {
        if (isCurrentThread()) {
            return spawnAs(request, user);
        }
        FutureTask<Integer> task = new FutureTask<>(() -> spawnAs(request, user));
        execute(task);
        try {
            return task.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the spawner thread", e);
        }
    }

    private int spawnAs(Spawn.Request request, UserAccount user) {
        if (Thread.currentThread() != thread || stopped != null) {
            String why = stopped;
            throw new IllegalStateException(why != null ? "envd cannot start processes as other users: " + why
                    : "processes for other users are started on the envd-spawner thread only");
        }
        RuntimeException failure = null;
        int pid = -1;
        try {
            Credentials.setThreadGroups(user.groups());
            Credentials.setThreadResgid(user.gid(), user.gid(), user.gid());
            Credentials.setThreadResuid(user.uid(), user.uid(), home.suid());
            pid = Spawn.spawn(request);
        } catch (RuntimeException e) {
            failure = e;
        }
        try {
            Credentials.setThreadResuid(home.uid(), home.euid(), home.suid());
            Credentials.setThreadResgid(home.gid(), home.egid(), home.sgid());
            Credentials.setThreadGroups(home.groups());
            if (dumpable) {
                Prctl.setDumpable(true);
            }
        } catch (RuntimeException e) {
            // a thread stuck between identities must never run another task
            stopped = "switching the spawner thread back to " + home + " failed: " + e.getMessage();
            LOG.log(Level.SEVERE, "envd cannot start processes as other users any more: " + stopped, e);
            if (pid > 0) {
                return pid; // the child did start: its caller must own it and reap it
            }
            throw new IllegalStateException("envd cannot start processes as other users: " + stopped, e);
        }
        if (failure != null) {
            throw failure;
        }
        return pid;
    }

    private void run() {
        try {
            home = Credentials.ofThisThread();
            Prctl.clearAmbientCapabilities();
            dumpable = Prctl.dumpable();
        } catch (RuntimeException e) {
            stopped = "the spawner thread could not read or prepare its credentials: " + e.getMessage();
            LOG.log(Level.SEVERE, stopped, e);
            drainToFallback();
            return;
        }
        while (stopped == null) {
            Runnable task;
            try {
                task = tasks.take();
            } catch (InterruptedException e) {
                stopped = "envd is shutting down";
                break;
            }
            try {
                task.run();
            } catch (RuntimeException | Error e) {
                LOG.log(Level.WARNING, "a task on the spawner thread failed", e);
            }
        }
        drainToFallback();
    }

    private void drainToFallback() {
        Runnable t;
        while ((t = tasks.poll()) != null) {
            fallback.execute(t);
        }
    }

    @Override
    public void close() {
        thread.interrupt();
    }
}
