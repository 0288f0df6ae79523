package io.sandboxd.vmm.devices.virtio;

import io.sandboxd.ffi.Errno;
import io.sandboxd.ffi.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The platform thread that runs one virtio device's queues. It sleeps in {@code poll} on the device's notify
 * eventfd (written by the MMIO path, or by KVM itself through an ioeventfd), a control eventfd (pause, resume,
 * stop) and any fds the device asks for (a tap), then lets the transport serve every queue.
 *
 * <p>{@link #pause} returns once the thread is parked between two rounds of work, so guest memory and the queues
 * stand still for a snapshot; a notification that arrives while paused stays in the eventfd and is served after
 * {@link #resume}.
 */
final class DeviceWorker implements AutoCloseable {
    interface Work {
        /** One round: serve the queues. Must not throw (the transport turns failures into NEEDS_RESET). */
        void round();

        int[] extraFds();
    }

    private static final int MAX_FDS = 8;
    private final String name;
    private final Work work;
    private final int notifyFd;
    private final int controlFd;
    private final Thread thread;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final Arena arena = Arena.ofShared();
    private final MemorySegment pollFds = arena.allocate(Libc.POLLFD, MAX_FDS);
    private final MemorySegment counter = arena.allocate(ValueLayout.JAVA_LONG);
    private final MemorySegment one = arena.allocate(ValueLayout.JAVA_LONG);
    private boolean pauseRequested;
    private boolean paused;
    private boolean stopRequested;
    private boolean started;
    private boolean finished;
    private boolean closed;

    DeviceWorker(String name, Work work) {
        this.name = name;
        this.work = work;
        this.notifyFd = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        int control;
        try {
            control = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        } catch (RuntimeException e) {
            Libc.close(notifyFd);
            arena.close();
            throw e;
        }
        this.controlFd = control;
        one.set(ValueLayout.JAVA_LONG, 0, 1L);
        this.thread = Thread.ofPlatform().name(name).daemon(true).unstarted(this::loop);
    }

    /** The eventfd whose write wakes this worker: what a KVM ioeventfd on the notify register signals. */
    int notifyFd() {
        return notifyFd;
    }

    void notifyQueue() {
        Libc.writeRaw(notifyFd, one, 8);
    }

    void start() {
        lock.lock();
        try {
            if (!started && !closed) {
                started = true;
                thread.start();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Parks the worker between rounds and returns once it is parked (at once if it is not running). */
    void pause() {
        lock.lock();
        try {
            pauseRequested = true;
            if (!started || finished) {
                return;
            }
            Libc.writeRaw(controlFd, one, 8);
            while (!paused && !finished) {
                changed.awaitUninterruptibly();
            }
        } finally {
            lock.unlock();
        }
    }

    void resume() {
        lock.lock();
        try {
            pauseRequested = false;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        notifyQueue(); // re-check every queue: a kick may have come while paused
    }

    private void loop() {
        try {
            while (true) {
                if (parkIfAsked()) {
                    return;
                }
                work.round();
                waitForWork();
            }
        } finally {
            lock.lock();
            try {
                finished = true;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    /** Returns true when the worker must end. */
    private boolean parkIfAsked() {
        lock.lock();
        try {
            while (pauseRequested && !stopRequested) {
                paused = true;
                changed.signalAll();
                changed.awaitUninterruptibly();
            }
            paused = false;
            return stopRequested;
        } finally {
            lock.unlock();
        }
    }

    private void waitForWork() {
        int[] extra = work.extraFds();
        int n = Math.min(2 + extra.length, MAX_FDS);
        setPollFd(0, notifyFd);
        setPollFd(1, controlFd);
        for (int i = 2; i < n; i++) {
            setPollFd(i, extra[i - 2]);
        }
        int r = Libc.pollRaw(pollFds, n, -1);
        if (r < 0 && r != -Errno.EINTR) {
            throw new IllegalStateException(name + ": poll failed, errno " + -r);
        }
        Libc.readRaw(notifyFd, counter, 8); // EAGAIN when it was not this fd: fine
        Libc.readRaw(controlFd, counter, 8);
    }

    private void setPollFd(int i, int fd) {
        long at = i * Libc.POLLFD.byteSize();
        pollFds.set(ValueLayout.JAVA_INT, at, fd);
        pollFds.set(ValueLayout.JAVA_SHORT, at + 4, Libc.POLLIN);
        pollFds.set(ValueLayout.JAVA_SHORT, at + 6, (short) 0);
    }

    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            stopRequested = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        if (started) {
            Libc.writeRaw(controlFd, one, 8);
            try {
                thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (thread.isAlive()) {
                throw new IllegalStateException(name + ": worker did not stop; its fds are left open");
            }
        }
        Libc.close(notifyFd);
        Libc.close(controlFd);
        arena.close();
    }
}
