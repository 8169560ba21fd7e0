#include "core/stopsig.h"
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

static atomic_int g_received;
static atomic_int g_started;
static int g_blocked;
static sigset_t g_child_mask;   // the mask before stopsig_block

static sigset_t stop_set(void) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigaddset(&s, SIGTERM);
    return s;
}

static void record(int sig) {
    int none = 0;
    atomic_compare_exchange_strong(&g_received, &none, sig);   // the first one counts
}

// Only for threads that have the signals unblocked (started before stopsig_block): async-signal-safe.
static void on_stop_signal(int sig) { record(sig); }

static void *receiver_main(void *arg) {
    (void)arg;
    sigset_t set = stop_set();
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) == 0) record(sig);
    }
    return NULL;
}

void stopsig_block(void) {
    sigset_t set = stop_set();
    if (pthread_sigmask(SIG_BLOCK, &set, &g_child_mask) == 0) g_blocked = 1;
}

int stopsig_start(void) {
    if (atomic_load(&g_started)) return 0;
    struct sigaction sa = {0};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (!g_blocked) return 0;   // the handler alone (a caller that did not block first)
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int rc = pthread_create(&t, &at, receiver_main, NULL);
    pthread_attr_destroy(&at);
    if (rc) return -1;
    atomic_store(&g_started, 1);
    return 0;
}

int stopsig_received(void) { return atomic_load(&g_received); }

const sigset_t *stopsig_child_mask(void) {
    static sigset_t current;
    if (g_blocked) return &g_child_mask;
    pthread_sigmask(SIG_SETMASK, NULL, &current);   // never blocked here: the current mask is the child's
    return &current;
}

void stopsig_send_self(int sig) {
    kill(getpid(), sig);
    if (!atomic_load(&g_started) || !g_blocked) return;   // a handler ran (or the process ends) already
    for (int i = 0; i < 5000 && !atomic_load(&g_received); i++) nanosleep(&(struct timespec){0, 1000000}, NULL);
}
