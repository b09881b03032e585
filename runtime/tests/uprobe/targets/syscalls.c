/* Five raw getppid system calls. */
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
    for (int i = 0; i < 5; i++)
        syscall(SYS_getppid);
    return 0;
}
