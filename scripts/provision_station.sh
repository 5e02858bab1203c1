#!/usr/bin/env bash
# Provision (or re-key) a station's MQTT credentials on the production Mosquitto.
#
#   scripts/provision_station.sh [options] STATION_ID PASSWORD_FILE
#
#   STATION_ID      the station id of the catalog, [A-Za-z0-9_-]{1,64}; it becomes the MQTT
#                   username, and the ACL (docker/mosquitto/acl: `pattern write aircarbon/v1/%u/#`)
#                   then lets the station publish only under aircarbon/v1/STATION_ID/.
#   PASSWORD_FILE   Mosquitto's password_file (created if missing; the user is added, or its
#                   password replaced when it exists).
#
# Options:
#   --password-env VAR    take the password from environment variable VAR instead of generating
#                         one (never pass a password as an argument: argv is visible in `ps`).
#   --explicit-acl FILE   also append a `user STATION_ID` / `topic write aircarbon/v1/STATION_ID/#`
#                         block to FILE (once), for brokers whose ACLs do not support the
#                         `pattern ... %u` line. Not needed with docker/mosquitto/acl.
#   -h, --help            this text.
#
# Without --password-env a random password (24 URL-safe characters) is generated and printed
# ONCE, alone on stdout, so `PW=$(scripts/provision_station.sh SY-TY-01 passwd)` captures it;
# everything else goes to stderr. Configure it in the station's data logger: it is not stored
# anywhere in clear text.
#
# The password reaches mosquitto_passwd on its stdin, not on its command line. Set
# MOSQUITTO_PASSWD to run it elsewhere, e.g. inside the broker's container:
#   MOSQUITTO_PASSWD="docker exec -i mosquitto mosquitto_passwd" \
#       scripts/provision_station.sh SY-TY-01 /mosquitto/config/passwd
# (then PASSWORD_FILE is a path inside the container, and --explicit-acl one on this host).
#
# Mosquitto reads the password and ACL files at start and on SIGHUP: reload it afterwards with
#   kill -HUP "$(pidof mosquitto)"        or        docker kill --signal=HUP mosquitto
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
die() {
    printf 'provision_station: %s\n' "$*" >&2
    exit 2
}
note() { printf 'provision_station: %s\n' "$*" >&2; }

password_env=""
explicit_acl=""
positional=()
while (($#)); do
    case "$1" in
        -h | --help)
            usage
            exit 0
            ;;
        --password-env)
            (($# >= 2)) || die "--password-env needs a variable name"
            password_env="$2"
            shift 2
            ;;
        --password-env=*)
            password_env="${1#*=}"
            shift
            ;;
        --explicit-acl)
            (($# >= 2)) || die "--explicit-acl needs a file"
            explicit_acl="$2"
            shift 2
            ;;
        --explicit-acl=*)
            explicit_acl="${1#*=}"
            shift
            ;;
        --)
            shift
            positional+=("$@")
            break
            ;;
        -*) die "unknown option $1 (see --help)" ;;
        *)
            positional+=("$1")
            shift
            ;;
    esac
done
((${#positional[@]} == 2)) || die "usage: provision_station.sh [options] STATION_ID PASSWORD_FILE"
station="${positional[0]}"
passwd_file="${positional[1]}"

# SPEC §1: the station id is the topic level and the MQTT username.
[[ "$station" =~ ^[A-Za-z0-9_-]{1,64}$ ]] \
    || die "station id '$station' must match [A-Za-z0-9_-]{1,64}"

read -r -a passwd_cmd <<<"${MOSQUITTO_PASSWD:-mosquitto_passwd}"
command -v "${passwd_cmd[0]}" >/dev/null 2>&1 \
    || die "${passwd_cmd[0]} not found (apt-get install mosquitto, or set MOSQUITTO_PASSWD)"

generated=0
if [[ -n "$password_env" ]]; then
    [[ "$password_env" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "bad variable name '$password_env'"
    password="${!password_env-}"
    [[ -n "$password" ]] || die "environment variable $password_env is empty or unset"
    [[ "$password" != *$'\n'* ]] || die "the password must not contain a newline"
else
    # 18 random bytes -> 24 base64 characters, made URL-safe (no / + =): ~144 bits
    password="$(head -c 18 /dev/urandom | base64 | tr '/+' '_-' | tr -d '=\n')"
    generated=1
fi

# A station of the catalog? Only a warning: the broker does not need the catalog.
catalog="$(dirname "${BASH_SOURCE[0]}")/../aircarbon/core/catalog/data/stations.toml"
if [[ -f "$catalog" ]] && ! grep -Eq "^id = \"${station}\"" "$catalog"; then
    note "warning: $station is not in aircarbon/core/catalog/data/stations.toml; the collector" \
        "dead-letters its messages (unknown_station) until it is added there"
fi

if [[ -z "${MOSQUITTO_PASSWD:-}" && ! -e "$passwd_file" ]]; then
    # a new, private file (mosquitto_passwd -c would truncate an existing one)
    (umask 077 && : >"$passwd_file")
    note "created $passwd_file (mode 600): the broker's user must be able to read it," \
        "e.g. chown mosquitto: $passwd_file (uid 1883 in the eclipse-mosquitto image)"
fi
action="added"
if [[ -z "${MOSQUITTO_PASSWD:-}" ]] && grep -q "^${station}:" "$passwd_file" 2>/dev/null; then
    action="password replaced for"
fi

# mosquitto_passwd asks twice; the prompts go to stdout, which we keep for the password.
printf '%s\n%s\n' "$password" "$password" \
    | "${passwd_cmd[@]}" "$passwd_file" "$station" >/dev/null \
    || die "mosquitto_passwd failed for $station in $passwd_file"
if [[ -z "${MOSQUITTO_PASSWD:-}" ]]; then
    grep -q "^${station}:" "$passwd_file" || die "$station did not appear in $passwd_file"
fi
note "$action $station in $passwd_file"

if [[ -n "$explicit_acl" ]]; then
    if [[ -f "$explicit_acl" ]] && grep -Eq "^user[[:space:]]+${station}[[:space:]]*$" "$explicit_acl"; then
        note "$explicit_acl already has a 'user $station' block: left as it is"
    else
        {
            # a new `user` line ends whichever block came before it
            printf '\n# station %s (scripts/provision_station.sh, %s)\n' "$station" "$(date -u +%F)"
            printf 'user %s\n' "$station"
            printf 'topic write aircarbon/v1/%s/#\n' "$station"
        } >>"$explicit_acl"
        note "appended an ACL block for $station to $explicit_acl"
    fi
else
    note "no ACL line needed: 'pattern write aircarbon/v1/%u/#' covers $station"
fi
note "reload the broker: kill -HUP \"\$(pidof mosquitto)\"  (or docker kill --signal=HUP mosquitto)"

if ((generated)); then
    note "generated password for $station (shown once, store it in the station's data logger):"
    printf '%s\n' "$password"
fi
