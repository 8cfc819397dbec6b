/* Dirties pages on the shared root and holds them until SIGUSR1, then
 * fsyncs them. The storage-death scenario signals it after killing the
 * storage VM, so its fsync is certain to sleep in page writeback, where a
 * kill cannot reach it; a writer looping on `dd conv=fsync` may instead be
 * caught in an RPC wait, which a kill ends by itself.
 *
 * Its name becomes "writer-holding" once the pages are dirty, so the node
 * can find it in /proc without touching the shared root.
 *
 *   held_writer FILE */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define HELD_BYTES (4 << 20)

static char block[1 << 16];

static void on_go(int signum) { (void)signum; }

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: held_writer FILE\n");
        return 2;
    }
    sigset_t go, others;
    sigemptyset(&go);
    sigaddset(&go, SIGUSR1);
    sigprocmask(SIG_BLOCK, &go, &others);
    struct sigaction action = {0};
    action.sa_handler = on_go;
    sigaction(SIGUSR1, &action, NULL);

    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    memset(block, 'w', sizeof block);
    for (int written = 0; written < HELD_BYTES; written += sizeof block) {
        if (write(fd, block, sizeof block) != (ssize_t)sizeof block) {
            perror("write");
            return 1;
        }
    }
    prctl(PR_SET_NAME, "writer-holding", 0, 0, 0);
    sigsuspend(&others);
    if (fsync(fd) != 0) {
        perror("fsync");
        return 1;
    }
    return 0;
}
