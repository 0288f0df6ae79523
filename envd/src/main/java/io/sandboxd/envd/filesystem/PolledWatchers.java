package io.sandboxd.envd.filesystem;

import io.sandboxd.envd.connect.ConnectCode;
import io.sandboxd.envd.connect.ConnectException;
import io.sandboxd.envd.proto.filesystem.FilesystemEvent;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The polling form of WatchDir (CreateWatcher / GetWatcherEvents / RemoveWatcher, used by the Python sync SDK):
 * each watcher buffers its events until the client drains them. The buffer is bounded: a client that stops
 * polling gets {@code resource_exhausted} on its next poll instead of envd growing without limit.
 */
final class PolledWatchers {
    static final int MAX_BUFFERED_EVENTS = 50_000;
    private static final char[] ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789".toCharArray();
    private static final int ID_LENGTH = 20;

    private final EntryInfos entries;
    private final Map<String, Polled> watchers = new ConcurrentHashMap<>();
    private final SecureRandom random = new SecureRandom();

    PolledWatchers(EntryInfos entries) {
        this.entries = entries;
    }

    /** Starts a watcher; returns its id ({@code w} + 20 of {@code [a-z0-9]}, like upstream's). */
    String create(Path dir, boolean recursive, boolean includeEntry) {
        Polled p = new Polled();
        p.watch = DirWatch.start(dir, recursive, includeEntry, entries, p);
        String id;
        do {
            id = newId();
        } while (watchers.putIfAbsent(id, p) != null);
        return id;
    }

    /** Every event since the last call, oldest first; the watcher's error once it failed. */
    List<FilesystemEvent> drain(String id) {
        return find(id).drain();
    }

    void remove(String id) {
        Polled p = watchers.remove(id);
        if (p == null) {
            throw notFound(id);
        }
        p.watch.close();
    }

    void closeAll() {
        watchers.values().forEach(p -> p.watch.close());
        watchers.clear();
    }

    int size() {
        return watchers.size();
    }

    private Polled find(String id) {
        Polled p = watchers.get(id);
        if (p == null) {
            throw notFound(id);
        }
        return p;
    }

    private static ConnectException notFound(String id) {
        return new ConnectException(ConnectCode.NOT_FOUND, "watcher with id " + id + " not found");
    }

    String newId() {
        char[] c = new char[ID_LENGTH + 1];
        c[0] = 'w';
        for (int i = 1; i <= ID_LENGTH; i++) {
            c[i] = ID_ALPHABET[random.nextInt(ID_ALPHABET.length)];
        }
        return new String(c);
    }

    private static final class Polled implements DirWatch.Listener {
        volatile DirWatch watch;
        private List<FilesystemEvent> events = new ArrayList<>();
        private ConnectException error;

        @Override
        public synchronized void onEvent(FilesystemEvent event) {
            if (error != null) {
                return;
            }
            if (events.size() >= MAX_BUFFERED_EVENTS) {
                error = new ConnectException(ConnectCode.RESOURCE_EXHAUSTED, "more than " + MAX_BUFFERED_EVENTS
                        + " events were not collected: poll GetWatcherEvents more often; this watcher has stopped");
                events = new ArrayList<>();
                DirWatch w = watch;
                if (w != null) {
                    w.close();
                }
                return;
            }
            events.add(event);
        }

        @Override
        public synchronized void onError(ConnectException e) {
            if (error == null) {
                error = e;
            }
        }

        synchronized List<FilesystemEvent> drain() {
            if (error != null) {
                throw error;
            }
            List<FilesystemEvent> out = events;
            events = new ArrayList<>();
            return out;
        }
    }
}
