package io.sandboxd.daemon.template.build;

import io.sandboxd.daemon.host.DirectoryTrees;
import io.sandboxd.daemon.host.HostCommand;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds a template as a stack of overlayfs layers, one per step, each made in a {@link BuildJail} over the layers
 * before it and kept in the team's {@link LayerCache} under its {@link StepHash}. A step whose hash is cached (and
 * that is not forced) is not run: a rebuild with one changed step runs that step and the ones after it only.
 *
 * <p>Steps: RUN (bash -c, as the step's or the current user, in the working directory, with the environment so
 * far), COPY (the uploaded tar's files, copied inside the jail so that the template's own symlinks cannot lead
 * outside it), ENV (an {@code /etc/profile.d} script, since the SDK runs commands through a login shell), WORKDIR
 * (created, owned by the current user) and USER (must exist).
 */
public final class LayeredBuilder {
    static final Duration STEP_TIMEOUT = Duration.ofMinutes(20);
    static final String ENV_SCRIPT = "etc/profile.d/zz-sandboxd-template-env.sh";
    private static final String COPY_SCRIPT = """
            set -e
            src="%s/$1"; dest="$2"; owner="$3"; mode="$4"
            case "$dest" in /*) ;; *) dest="$(pwd)/$dest" ;; esac
            if [ -d "$src" ] && [ ! -L "$src" ]; then
              mkdir -p "$dest"; cp -a "$src"/. "$dest"/; target="$dest"
            elif [ -e "$src" ] || [ -L "$src" ]; then
              case "$2" in */) mkdir -p "$dest"; target="$dest/$(basename "$src")" ;;
                *) mkdir -p "$(dirname "$dest")"; target="$dest" ;; esac
              cp -a "$src" "$target"
            else
              echo "'$1' is not among the uploaded files" >&2; exit 1
            fi
            if [ -n "$owner" ]; then chown -R "$owner" "$target"; fi
            if [ -n "$mode" ]; then chmod -R "$mode" "$target"; fi
            echo "copied $1 to $target"
            """.formatted(BuildJail.COPY_SOURCE);

    /** Where the build starts: the layers below (overlayfs lowerdir order, top first), their key, their state. */
    public record Base(List<String> lowerDirs, String hash, StepState state) {
        public Base {
            lowerDirs = List.copyOf(lowerDirs);
        }
    }

    /** @param lowerDirs the finished template's layers, top first */
    public record Result(List<String> lowerDirs, StepState state, int cachedSteps, int builtSteps) {}

    /** Where COPY steps find their uploads: the tar a files hash was uploaded as, if it was. */
    @FunctionalInterface
    public interface Uploads {
        java.util.Optional<Path> tar(String filesHash);
    }

    private final BuildJail jail;

    public LayeredBuilder(Path runcRoot, String jailNamePrefix) {
        this.jail = new BuildJail(runcRoot, jailNamePrefix);
    }

    /** @param forceAll rebuild every step (the SDK's {@code skipCache}) */
    public Result build(Base base, List<Step> steps, boolean forceAll, LayerCache cache, Uploads uploads,
                        BuildLog log) {
        List<String> stack = new ArrayList<>(base.lowerDirs());
        String hash = base.hash();
        StepState state = base.state();
        int cached = 0;
        int built = 0;
        boolean forceRest = forceAll;
        for (int i = 0; i < steps.size(); i++) {
            Step step = steps.get(i);
            String name = String.valueOf(i + 1);
            hash = StepHash.of(hash, step);
            String title = "[" + name + "/" + steps.size() + "] " + describe(step);
            forceRest |= step.force();
            java.util.Optional<Path> layer = forceRest ? java.util.Optional.empty() : cache.find(hash);
            StepState next = apply(state, step);
            if (layer.isPresent()) {
                log.info(title + " (cached)", name);
                cached++;
            } else {
                log.info(title, name);
                long t0 = System.nanoTime();
                layer = java.util.Optional.of(runStep(name, step, state, stack, hash, cache, uploads, log));
                log.info(String.format("step %s done in %.1f s", name, (System.nanoTime() - t0) / 1e9), name);
                built++;
            }
            stack.addFirst(layer.get().toString());
            state = next;
        }
        return new Result(stack, state, cached, built);
    }

    /** The state after {@code step}, derived from the step alone. */
    static StepState apply(StepState state, Step step) {
        return switch (step.type()) {
            case "USER" -> state.withUser(step.args().getFirst());
            case "WORKDIR" -> state.withWorkdir(absolute(state.workdir(), step.args().getFirst()));
            case "ENV" -> {
                Map<String, String> m = new LinkedHashMap<>();
                for (int i = 0; i + 1 < step.args().size(); i += 2) {
                    m.put(step.args().get(i), step.args().get(i + 1));
                }
                yield state.withEnv(m);
            }
            default -> state;
        };
    }

    private Path runStep(String name, Step step, StepState state, List<String> stack, String hash,
                         LayerCache cache, Uploads uploads, BuildLog log) {
        Path tmp = cache.begin(hash);
        try {
            String lower = String.join(":", stack);
            switch (step.type()) {
                case "RUN" -> {
                    String user = step.args().size() > 1 && !step.args().get(1).isEmpty() ? step.args().get(1) : state.user();
                    runIn(name, lower, tmp, List.of("/bin/bash", "-c", step.args().getFirst()), state.withUser(user), null, log);
                }
                case "COPY" -> copy(name, step, state, lower, tmp, uploads, log);
                case "ENV" -> writeEnv(tmp, apply(state, step));
                case "WORKDIR" -> {
                    String dir = absolute(state.workdir(), step.args().getFirst());
                    String problem = CopyPaths.destinationProblem(dir);
                    if (problem != null) {
                        throw new StepFailedException(name, "WORKDIR: " + problem);
                    }
                    String own = state.user().equals("root") ? "" : " && chown " + quote(state.user()) + ": " + quote(dir);
                    runIn(name, lower, tmp, List.of("/bin/sh", "-c", "mkdir -p " + quote(dir) + own),
                            state.withUser("root").withWorkdir("/"), null, log);
                }
                case "USER" -> {
                    String user = step.args().getFirst();
                    if (!user.matches("[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}")) {
                        throw new StepFailedException(name, "USER: '" + user + "' is not a user name");
                    }
                    runIn(name, lower, tmp, List.of("/bin/sh", "-c", "id -u " + user + " >/dev/null || { echo \"user "
                            + user + " does not exist in the template\"; exit 1; }"), state.withUser("root"), null, log);
                }
                default -> throw new StepFailedException(name, "unknown step type " + step.type());
            }
            return cache.commit(hash, tmp);
        } catch (RuntimeException e) {
            LayerCache.discard(tmp);
            throw e;
        }
    }

    private void runIn(String name, String lower, Path tmp, List<String> command, StepState state, Path copySource,
                       BuildLog log) {
        BuildJail.Run r = jail.run(lower, tmp, command, state.processEnv(), state.workdir(), state.user(), copySource,
                STEP_TIMEOUT, line -> log.info(line, name));
        if (r.timedOut()) {
            throw new StepFailedException(name, "step " + name + " did not finish within " + STEP_TIMEOUT.toMinutes()
                    + " minutes");
        }
        if (r.exitCode() != 0) {
            throw new StepFailedException(name, "step " + name + " failed: the command exited with " + r.exitCode());
        }
    }

    private void copy(String name, Step step, StepState state, String lower, Path tmp, Uploads uploads,
                      BuildLog log) {
        String src = step.args().get(0);
        String dest = step.args().get(1);
        String problem = CopyPaths.sourceProblem(src);
        if (problem == null) {
            problem = CopyPaths.destinationProblem(dest);
        }
        if (problem != null) {
            throw new StepFailedException(name, "COPY: " + problem);
        }
        Path tar = uploads.tar(step.filesHash()).orElseThrow(() -> new StepFailedException(name,
                "COPY: the files of '" + src + "' (hash " + step.filesHash() + ") were never uploaded"));
        HostCommand.Result list = HostCommand.run(List.of("tar", "-tf", tar.toString()), null, Duration.ofMinutes(2));
        if (!list.ok()) {
            throw new StepFailedException(name, "COPY: the upload of '" + src + "' is not a tar archive: "
                    + list.stderr().strip());
        }
        for (String entry : list.stdout().split("\n")) {
            String p = entry.isEmpty() ? null : CopyPaths.entryProblem(entry);
            if (p != null) {
                throw new StepFailedException(name, "COPY: " + p);
            }
        }
        Path staging = tmp.resolve("copy-src");
        try {
            Files.createDirectories(staging);
            HostCommand.Result x = HostCommand.run(List.of("tar", "-xf", tar.toString(), "-C", staging.toString(),
                    "--no-same-owner"), null, Duration.ofMinutes(10));
            if (!x.ok()) {
                throw new StepFailedException(name, "COPY: cannot unpack the upload of '" + src + "': " + x.stderr().strip());
            }
            String owner = step.args().size() > 2 && !step.args().get(2).isEmpty() ? step.args().get(2)
                    : state.user().equals("root") ? "" : state.user();
            if (!owner.isEmpty()) {
                String spec = CopyPaths.chownSpec(owner);
                if (spec == null) {
                    throw new StepFailedException(name, "COPY: owner '" + owner + "' is not user or user:group");
                }
                owner = spec;
            }
            String mode = step.args().size() > 3 ? step.args().get(3) : "";
            if (!mode.isEmpty() && !mode.matches("[0-7]{3,4}")) {
                throw new StepFailedException(name, "COPY: mode '" + mode + "' is not an octal mode");
            }
            String s = src.startsWith("./") ? src.substring(2) : src;
            runIn(name, lower, tmp, List.of("/bin/sh", "-c", COPY_SCRIPT, "copy", s, dest, owner, mode),
                    state.withUser("root"), staging, log);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            DirectoryTrees.deleteRecursively(staging);
        }
    }

    /** The environment so far as a login-shell script, in the step's layer (the top copy wins). */
    private static void writeEnv(Path tmp, StepState state) {
        StringBuilder b = new StringBuilder("# written by sandboxd from the template's ENV steps\n");
        state.env().forEach((k, v) -> {
            if (!k.matches("[A-Za-z_][A-Za-z0-9_]*")) {
                throw new StepFailedException("?", "ENV: '" + k + "' is not a variable name");
            }
            b.append("export ").append(k).append('=').append(quote(v)).append('\n');
        });
        Path script = tmp.resolve("fs").resolve(ENV_SCRIPT);
        try {
            Files.createDirectories(script.getParent());
            Files.writeString(script, b.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + script, e);
        }
    }

    static String absolute(String workdir, String path) {
        String p = path.startsWith("/") ? path : (workdir.endsWith("/") ? workdir : workdir + "/") + path;
        return p.length() > 1 && p.endsWith("/") ? p.substring(0, p.length() - 1) : p;
    }

    static String quote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    static String describe(Step step) {
        String args = String.join(" ", step.args().subList(0, Math.min(2, step.args().size())));
        return step.type() + " " + (args.length() > 200 ? args.substring(0, 200) + "…" : args);
    }
}
