package io.sandboxd.envd.process;

import io.sandboxd.envd.auth.UserAccount;
import io.sandboxd.ffi.Credentials;
import io.sandboxd.ffi.NativeException;
import io.sandboxd.ffi.Prctl;
import io.sandboxd.ffi.Spawn;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Starts children as another user from a root envd, without a helper exec: one dedicated platform thread switches
 * its own credentials to the user (raw per-thread syscalls, see {@link Credentials}), calls {@code posix_spawn} (the
 * vfork-style child copies the thread's credentials) and switches back to root.
 *
 * <p>Order when switching: supplementary groups, then gids, then uids (setgroups and setresgid need CAP_SETGID, which
 * goes with euid 0). The saved uid stays 0 so the thread may return; {@code execve} sets the child's saved uid to
 * its effective uid, so the child ends with all three uids the user's and no capabilities (the thread's ambient set
 * is emptied once at start, and the inheritable set, as with {@code setpriv}, is whatever envd has). Returning:
 * uids first (that brings CAP_SETGID back), then gids and groups, then the process's dumpable flag, which any
 * change of effective uid resets.
 *
 * <p>Nothing but spawn jobs ever runs on the thread. If switching back fails, the thread is never used again: it
 * fails every job from then on with the reason and exits. It is never replaced: a thread started by a switched
 * thread would inherit the user's credentials.
 *
 * <p>Known window: while switched (the duration of one {@code posix_spawn}, tens of microseconds) the thread's real
 * uid is the user's, so that user's processes may signal the thread, and a fatal signal to one thread ends envd.
 */
final class UserSpawner implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(UserSpawner.class.getName());

    private record Job(Spawn.Request request, int uid, int gid, int[] groups, CompletableFuture<Integer> pid) {
    }

    private final LinkedBlockingQueue<Job> jobs = new LinkedBlockingQueue<>();
    private final Thread thread;
    /** Set once the thread can no longer spawn; jobs submitted after that fail with it. */
    private volatile String broken;

    /** Starts the spawner thread; call from a thread that has envd's own (root) credentials. */
    UserSpawner() {
        thread = Thread.ofPlatform().daemon().name("envd-spawner").unstarted(this::run);
        thread.start();
    }

    /**
     * Spawns {@code request} as {@code user} (its uid, gid and supplementary groups) and returns the pid.
     *
     * @throws NativeException       the spawn failed (posix_spawn's error: EACCES for a cwd or executable the user
     *                               may not use, ENOENT...) or the switch to the user was refused
     * @throws IllegalStateException the spawner cannot start processes as other users any more
     */
    int spawn(Spawn.Request request, UserAccount user) {
        String why = broken;
        if (why != null) {
            throw new IllegalStateException(why);
        }
        Job job = new Job(request, user.uid(), user.gid(), user.groups(), new CompletableFuture<>());
        jobs.add(job);
        if (broken != null) {
            failQueued(); // raced with the thread's exit: nobody else would answer this job
        }
        try {
            return job.pid().get();
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

    private void run() {
        Credentials.ThreadIds home;
        try {
            home = Credentials.ofThisThread();
            Prctl.clearAmbientCapabilities();
        } catch (RuntimeException e) {
            stop("the spawner thread could not read or prepare its credentials: " + e.getMessage(), e);
            return;
        }
        boolean dumpable = Prctl.dumpable();
        while (true) {
            Job job;
            try {
                job = jobs.take();
            } catch (InterruptedException e) {
                stop("envd is shutting down", null);
                return;
            }
            RuntimeException failure = null;
            int pid = -1;
            try {
                switchTo(job, home);
                pid = Spawn.spawn(job.request());
            } catch (RuntimeException e) {
                failure = e;
            }
            try {
                switchBack(home);
                if (dumpable) {
                    Prctl.setDumpable(true);
                }
            } catch (RuntimeException e) {
                // a thread stuck between identities must never serve another job
                String why = "envd can no longer start processes as other users: switching the spawner thread back to "
                        + home + " failed: " + e.getMessage();
                if (failure == null) {
                    job.pid().complete(pid); // the child did start; its owner must learn the pid to reap it
                } else {
                    job.pid().completeExceptionally(failure);
                }
                stop(why, e);
                return;
            }
            if (failure != null) {
                job.pid().completeExceptionally(failure);
            } else {
                job.pid().complete(pid);
            }
        }
    }

    private static void switchTo(Job job, Credentials.ThreadIds home) {
        Credentials.setThreadGroups(job.groups());
        Credentials.setThreadResgid(job.gid(), job.gid(), job.gid());
        Credentials.setThreadResuid(job.uid(), job.uid(), home.suid());
    }

    private static void switchBack(Credentials.ThreadIds home) {
        Credentials.setThreadResuid(home.uid(), home.euid(), home.suid());
        Credentials.setThreadResgid(home.gid(), home.egid(), home.sgid());
        Credentials.setThreadGroups(home.groups());
    }

    private void stop(String why, Throwable cause) {
        broken = why;
        if (cause != null) {
            LOG.log(Level.SEVERE, why, cause);
        }
        failQueued();
    }

    private void failQueued() {
        Job j;
        while ((j = jobs.poll()) != null) {
            j.pid().completeExceptionally(new IllegalStateException(broken));
        }
    }

    @Override
    public void close() {
        thread.interrupt();
    }
}
