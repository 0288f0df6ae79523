package io.sandboxd.daemon.cli.systemd;

import io.sandboxd.daemon.store.EmbeddedPostgres;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The ordered steps of {@code install} and {@code uninstall}: the one list that is both printed and applied. */
public final class ServicePlan {
    /** systemctl's exit code for a unit that is not loaded or not installed. */
    static final int SYSTEMCTL_NOT_LOADED = 5;
    /** userdel's exit code for a user that does not exist. */
    static final int USERDEL_NO_USER = 6;

    private ServicePlan() {
    }

    public static List<ServiceStep> install(ServiceLayout l, boolean start) {
        List<ServiceStep> steps = new ArrayList<>();
        // 0711: root's, not listable; others may pass through to db/, which the PostgreSQL user owns.
        steps.add(new ServiceStep.MakeDirectory(l.dataDir(), "rwx--x--x"));
        steps.add(new ServiceStep.WriteFile(l.unitFile(), SystemdUnit.render(l), "rw-r--r--"));
        steps.add(ServiceStep.Run.of("load the new unit", "systemctl", "daemon-reload"));
        steps.add(ServiceStep.Run.of("start it at boot", "systemctl", "enable", l.unitName()));
        if (start) {
            steps.add(ServiceStep.Run.of("start it now (the first start builds the base template, 1-3 minutes)",
                    "systemctl", "start", l.unitName()));
        }
        return steps;
    }

    /**
     * @param dataDir the service's data dir, removed (with the embedded PostgreSQL's user) only when {@code purge}
     */
    public static List<ServiceStep> uninstall(String unitName, Path unitFile, Path dataDir, boolean purge,
                                              boolean dataDirExists) {
        List<Integer> notLoaded = List.of(SYSTEMCTL_NOT_LOADED);
        List<ServiceStep> steps = new ArrayList<>();
        steps.add(ServiceStep.Run.tolerating(notLoaded, "stop the daemon (its --on-shutdown policy applies)",
                "systemctl", "stop", unitName));
        steps.add(ServiceStep.Run.tolerating(notLoaded, "no start at boot", "systemctl", "disable", unitName));
        steps.add(new ServiceStep.DeleteFile(unitFile));
        steps.add(ServiceStep.Run.of("forget the unit", "systemctl", "daemon-reload"));
        steps.add(ServiceStep.Run.tolerating(List.of(1, SYSTEMCTL_NOT_LOADED), "clear a failed state", "systemctl",
                "reset-failed", unitName));
        if (purge) {
            if (dataDirExists) {
                steps.add(new ServiceStep.DeleteTree(dataDir));
            }
            steps.add(ServiceStep.Run.tolerating(List.of(USERDEL_NO_USER), "the embedded PostgreSQL's user",
                    "userdel", EmbeddedPostgres.SYSTEM_USER));
        }
        return steps;
    }
}
