/* One escape attempt per run, for the escape battery
 * (tests/integration/escape.rs): `probe ATTEMPT [ARG]` makes the system
 * call and prints `ok`, or `errno=NAME`. Built statically at test time, so
 * that it runs in any container root. Null pointers are passed where the
 * kernel would check them only after the permission checks: unfiltered,
 * those calls fail with EFAULT or EINVAL instead of EPERM, which tells a
 * filtered call from one the kernel saw. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

static int report(long result) {
    if (result < 0) {
        const char *name = strerrorname_np(errno);
        printf("errno=%s\n", name ? name : "?");
    } else {
        printf("ok\n");
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: probe ATTEMPT [ARG]\n");
        return 2;
    }
    const char *attempt = argv[1];
    const char *arg = argc > 2 ? argv[2] : "/";
    if (!strcmp(attempt, "finit_module")) {
        int fd = open(arg, O_RDONLY);
        return report(syscall(SYS_finit_module, fd, "", 0));
    }
    if (!strcmp(attempt, "init_module"))
        return report(syscall(SYS_init_module, NULL, 0, ""));
    if (!strcmp(attempt, "kexec_load"))
        return report(syscall(SYS_kexec_load, 0, 0, NULL, 0));
    if (!strcmp(attempt, "swapon"))
        return report(syscall(SYS_swapon, NULL, 0));
    if (!strcmp(attempt, "perf_event_open"))
        return report(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
    if (!strcmp(attempt, "bpf"))
        return report(syscall(SYS_bpf, 0, NULL, 0));
    if (!strcmp(attempt, "keyctl"))
        return report(syscall(SYS_keyctl, 0, 0, 0, 0, 0));
    if (!strcmp(attempt, "clock_settime")) {
        /* Sets the clock to the time it already has. */
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        return report(syscall(SYS_clock_settime, CLOCK_REALTIME, &now));
    }
    if (!strcmp(attempt, "open_by_handle_at")) {
        /* The shocker escape: a handle, then open it by handle. */
        struct file_handle *handle = malloc(sizeof(*handle) + MAX_HANDLE_SZ);
        handle->handle_bytes = MAX_HANDLE_SZ;
        int mount_id;
        if (name_to_handle_at(AT_FDCWD, arg, handle, &mount_id, 0) < 0)
            return report(-1);
        int mount_fd = open(arg, O_RDONLY | O_DIRECTORY);
        return report(syscall(SYS_open_by_handle_at, mount_fd, handle, O_RDONLY | O_DIRECTORY));
    }
    if (!strcmp(attempt, "read")) {
        /* Reads one byte of ARG: ok only if a byte came. */
        char byte;
        int fd = open(arg, O_RDONLY);
        if (fd < 0)
            return report(-1);
        ssize_t got = read(fd, &byte, 1);
        if (got == 0) {
            printf("empty\n");
            return 0;
        }
        return report(got);
    }
    if (!strcmp(attempt, "write")) {
        /* Writes argv[3] to ARG. */
        const char *text = argc > 3 ? argv[3] : "";
        int fd = open(arg, O_WRONLY);
        if (fd < 0)
            return report(-1);
        return report(write(fd, text, strlen(text)));
    }
    if (!strcmp(attempt, "adjtimex")) {
        /* Reads the clock's state (modes 0): harmless anywhere. */
        struct timex state = {0};
        /* The system call itself: glibc's adjtimex() uses clock_adjtime. */
        return report(syscall(SYS_adjtimex, &state));
    }
    if (!strcmp(attempt, "mknod") || !strcmp(attempt, "mknod_char")) {
        /* A block (or character) device node: ARG MAJOR MINOR. */
        if (argc < 5)
            return 2;
        dev_t device = makedev(atoi(argv[3]), atoi(argv[4]));
        mode_t kind = strcmp(attempt, "mknod") ? S_IFCHR : S_IFBLK;
        return report(mknod(arg, kind | 0600, device));
    }
    if (!strcmp(attempt, "mlock")) {
        /* Locks one page past a zero RLIMIT_MEMLOCK: only CAP_IPC_LOCK
         * gets past the limit. */
        struct rlimit none = {0, 0};
        setrlimit(RLIMIT_MEMLOCK, &none);
        static char page[4096];
        return report(mlock(page, sizeof page));
    }
    if (!strcmp(attempt, "chroot"))
        return report(chroot(arg));
    if (!strcmp(attempt, "open"))
        return report(open(arg, O_RDWR));
    if (!strcmp(attempt, "fspick"))
        /* The new mount API's handle on an existing superblock. */
        return report(syscall(SYS_fspick, AT_FDCWD, arg, 0));
    if (!strcmp(attempt, "chroot_escape")) {
        /* The classic escape: chroot into a subdirectory while keeping the
         * working directory outside it, climb with "..", chroot there.
         * Prints "escaped" if ARG (a path on the host) is then visible. */
        mkdir("/tmp/jail", 0700);
        if (chdir("/") < 0 || chroot("/tmp/jail") < 0)
            return report(-1);
        for (int i = 0; i < 64; i++)
            if (chdir("..") < 0)
                return report(-1);
        if (chroot(".") < 0)
            return report(-1);
        printf(access(arg, F_OK) == 0 ? "escaped\n" : "contained\n");
        return 0;
    }
    if (!strcmp(attempt, "setns")) {
        /* Enter the namespace at ARG (e.g. /proc/PID/ns/mnt). */
        int fd = open(arg, O_RDONLY);
        if (fd < 0)
            return report(-1);
        return report(setns(fd, 0));
    }
    if (!strcmp(attempt, "kill"))
        return report(kill(atoi(arg), 0));
    if (!strcmp(attempt, "sethostname"))
        return report(sethostname(arg, strlen(arg)));
    fprintf(stderr, "probe: unknown attempt %s\n", attempt);
    return 2;
}
