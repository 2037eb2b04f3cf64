/* Which implementation a --to gets: a path is local, host:/path and ssh:// are remote. */
#include "target/target.h"
#include "target/ssh.h"
#include "target/url.h"

struct target *target_open(const char *spec, enum link_mode mode, int sudo)
{
	if (target_url_is_remote(spec))
		return target_open_ssh(spec, mode, sudo ? TARGET_SUDO : 0);
	return target_open_local(spec, mode);
}
