package io.sandboxd.vmm.kvm;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The run loop of one vCPU on its own platform thread (KVM_RUN blocks in native code, which would pin a virtual
 * thread's carrier). Other threads control it with {@link #pause}, {@link #resume} and {@link #stop}; each kicks
 * the vCPU out of KVM_RUN (see {@link Vcpu#kick()}) and, for pause and stop, waits until the loop has parked or
 * ended, so that state can be read safely afterwards.
 *
 * <p>States: RUNNING (in or around KVM_RUN) -> PAUSED (parked, vCPU state stable) -> RUNNING ... -> FINISHED
 * (the handler said STOP, {@link #stop} was called, or the guest failed: {@link #failure()}).
 */
public final class VcpuThread implements AutoCloseable {
    public enum State { NEW, RUNNING, PAUSED, FINISHED }

    private final Vcpu vcpu;
    private final ExitHandler handler;
    private final Thread thread;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private State state = State.NEW;
    private volatile boolean pauseRequested;
    private volatile boolean stopRequested;
    private volatile RuntimeException failure;

    public VcpuThread(Vcpu vcpu, ExitHandler handler) {
        this.vcpu = vcpu;
        this.handler = handler;
        this.thread = Thread.ofPlatform().name("vcpu-" + vcpu.vm().fd() + "-" + vcpu.id()).daemon(true)
                .unstarted(this::loop);
    }

    public Vcpu vcpu() {
        return vcpu;
    }

    public VcpuThread start() {
        lock.lock();
        try {
            if (state != State.NEW) {
                throw new IllegalStateException("vCPU thread already started");
            }
            state = State.RUNNING;
        } finally {
            lock.unlock();
        }
        thread.start();
        return this;
    }

    /*
     * A pause must leave the vCPU with no half-done instruction: after a port I/O or MMIO exit KVM finishes the
     * instruction (stores the IN data, advances RIP) only at the start of the next KVM_RUN. So the loop parks
     * only after a KVM_RUN that returned EINTR, which completes pending I/O first; when a pause is requested at the
     * loop head it sets immediate_exit and enters KVM_RUN once to get there (KVM's documented way to drain).
     */
    private void loop() {
        try {
            while (!stopRequested) {
                boolean draining = pauseRequested;
                if (draining) {
                    vcpu.requestImmediateExit();
                }
                VcpuExit exit = vcpu.run();
                if (exit instanceof VcpuExit.Interrupted) {
                    if (draining) {
                        park();
                    }
                    continue; // a kick: the loop head decides whether to drain, park or stop
                }
                ExitHandler.Action action = handler.onExit(vcpu, exit);
                if (action == ExitHandler.Action.STOP) {
                    break;
                }
                if (action == ExitHandler.Action.PAUSE) {
                    pauseRequested = true; // the loop head drains this exit's I/O, then parks
                }
            }
        } catch (RuntimeException e) {
            failure = e instanceof GuestFailedException ? e : new GuestFailedException(vcpu.id(), "run loop failed", e);
        } finally {
            setState(State.FINISHED);
        }
    }

    private void park() {
        lock.lock();
        try {
            if (!pauseRequested) {
                return;
            }
            state = State.PAUSED;
            changed.signalAll();
            while (pauseRequested && !stopRequested) {
                changed.awaitUninterruptibly();
            }
            if (!stopRequested) {
                state = State.RUNNING;
                changed.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    private void setState(State s) {
        lock.lock();
        try {
            state = s;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    public State state() {
        lock.lock();
        try {
            return state;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Stops the vCPU between two instructions and waits until the loop is parked (or has finished). Returns
     * whether it is parked; throws on timeout, which means KVM did not honour the kick.
     */
    public boolean pause(Duration timeout) {
        lock.lock();
        try {
            if (state == State.FINISHED || state == State.NEW) {
                return false;
            }
            pauseRequested = true;
        } finally {
            lock.unlock();
        }
        vcpu.kick();
        return awaitState(timeout, "pause");
    }

    private boolean awaitState(Duration timeout, String what) {
        long deadline = System.nanoTime() + timeout.toNanos();
        lock.lock();
        try {
            while (state == State.RUNNING) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new IllegalStateException("vCPU " + vcpu.id() + " did not " + what + " within " + timeout
                            + " of a kick");
                }
                try {
                    changed.awaitNanos(Math.min(left, TimeUnit.MILLISECONDS.toNanos(50)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while waiting for vCPU " + vcpu.id() + " to " + what);
                }
                if (state == State.RUNNING) {
                    vcpu.kick(); // cheap insurance: a kick that raced with a KVM_RUN entry is repeated
                }
            }
            return state == State.PAUSED;
        } finally {
            lock.unlock();
        }
    }

    private boolean completed;

    /**
     * Brings the vCPU to a state that can be saved: pauses a running loop; for a loop that ended by itself on an
     * exit (handler STOP), finishes that exit's instruction without running guest code. Returns false when the
     * loop failed (its state is whatever the failure left).
     */
    public boolean quiesce(Duration timeout) {
        State s = state();
        if (s == State.RUNNING) {
            if (pause(timeout)) {
                return true;
            }
            s = state();
        }
        if (s == State.FINISHED) {
            if (failure != null) {
                return false;
            }
            synchronized (this) {
                if (!completed) {
                    vcpu.completePendingIo();
                    completed = true;
                }
            }
        }
        return true;
    }

    /** Lets a paused vCPU run again. */
    public void resume() {
        lock.lock();
        try {
            if (state != State.PAUSED) {
                throw new IllegalStateException("vCPU " + vcpu.id() + " is " + state + ", not PAUSED");
            }
            pauseRequested = false;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Ends the loop (kicking the vCPU out of the guest) and waits for the thread. */
    public void stop(Duration timeout) {
        stopRequested = true;
        lock.lock();
        try {
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        if (state() == State.NEW) {
            return;
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (thread.isAlive()) {
            vcpu.kick();
            try {
                thread.join(Math.max(1, Math.min(50, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()))));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while stopping vCPU " + vcpu.id());
            }
            if (System.nanoTime() > deadline && thread.isAlive()) {
                throw new IllegalStateException("vCPU " + vcpu.id() + " did not stop within " + timeout);
            }
        }
    }

    /** Waits until the loop ends by itself (handler STOP or failure). */
    public boolean join(Duration timeout) throws InterruptedException {
        return thread.join(timeout);
    }

    /** Why the loop ended, if it failed. */
    public RuntimeException failure() {
        return failure;
    }

    @Override
    public void close() {
        stop(Duration.ofSeconds(10));
    }
}
