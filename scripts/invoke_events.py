"""Every function's real binary under SAM's Lambda Runtime Interface Emulator, sent the
sample events of events/ against the DynamoDB/SES/SSM test server; see scripts/invoke-events.

What `sam local invoke` does inside its container, without the container: the emulator
(aws-lambda-rie, shipped in the aws-sam-cli package) starts the function's bootstrap with
the environment SAM computes for it (SAM's own code below: the template's variables, the
AWS_LAMBDA_* ones, credentials and region; overrides as `--env-vars` would give them), and
answers `POST /2015-03-31/functions/function/invocations`. The one addition is
AWS_ENDPOINT_URL, which points every AWS client of the function at the test server.

Usage: python invoke_events.py --endpoint URL --binaries DIR [--arm64]
  DIR holds scim-users, scim-groups, ... (x86_64: cargo's target/debug or target/release),
  or with --arm64 SAM's build folder (.aws-sam/build/<Function>/bootstrap), each run
  under qemu-aarch64-static.
"""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import boto3
from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
REGION = "us-east-1"
RIE_DIR = Path(__import__("samcli").__file__).parent / "local" / "rapid"
QEMU = ["qemu-aarch64-static", "-L", "/usr/aarch64-linux-gnu"]
# The host the sample events were addressed to (their `domainName`).
PUBLIC_HOST = "abc123.execute-api.eu-west-1.amazonaws.com"
INVOKE_TIMEOUT = 60


def fail(message):
    print(f"invoke-events: {message}", file=sys.stderr)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def aws(service, endpoint):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION)


def table_from_template(endpoint, name):
    """The table as template.yaml declares it (the one declaration), under a fresh name."""
    stacks, _ = SamLocalStackProvider.get_stacks(str(ROOT / "template.yaml"))
    props = stacks[0].resources["Table"]["Properties"]
    aws("dynamodb", endpoint).create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
    )


class Function:
    """One function: its emulator and bootstrap, started once, invoked many times."""

    def __init__(self, logical_id, env, command, log_dir):
        self.logical_id = logical_id
        self.port = free_port()
        self.log = open(log_dir / f"{logical_id}.log", "w")
        rie = RIE_DIR / "aws-lambda-rie-x86_64"
        self.process = subprocess.Popen(
            [str(rie), "--log-level", "error",
             "--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
             "--runtime-api-address", f"127.0.0.1:{free_port()}", *command],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT,
        )
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.process.poll() is not None or time.time() > deadline:
                    fail(f"the emulator for {logical_id} did not start; see {self.log.name}")
                time.sleep(0.05)

    def invoke(self, event):
        url = f"http://127.0.0.1:{self.port}/2015-03-31/functions/function/invocations"
        request = urllib.request.Request(url, data=json.dumps(event).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=INVOKE_TIMEOUT) as response:
            return json.loads(response.read() or b"null")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        self.log.close()


class Run:
    def __init__(self, functions):
        self.functions = functions
        self.values = {}
        self.count = 0
        self.sent = set()

    def event(self, file, **replace):
        text = (EVENTS / file).read_text()
        for name, value in {**self.values, **replace}.items():
            text = text.replace("{{" + name + "}}", value)
        return json.loads(text)

    def raw(self, function, file, event):
        answer = self.functions[function].invoke(event)
        self.count += 1
        self.sent.add(file.split(" ")[0])
        print(f"  {function:<18} {file:<42} ", end="")
        return answer

    def http(self, function, file, status, event=None):
        """An API Gateway event: expects the status and a SCIM (JSON) body; returns the body."""
        answer = self.raw(function, file, event or self.event(file))
        if not isinstance(answer, dict) or "statusCode" not in answer:
            fail(f"{function} {file}: not an API Gateway response: {answer}")
        body = json.loads(answer["body"]) if answer.get("body") else None
        print(answer["statusCode"])
        if answer["statusCode"] != status:
            fail(f"{function} {file}: status {answer['statusCode']}, expected {status}: {body}")
        content_type = answer.get("headers", {}).get("content-type")
        if content_type != "application/scim+json":
            fail(f"{function} {file}: content-type {content_type}")
        return body

    def direct(self, function, file, event=None):
        """A direct invoke (not HTTP): the function's answer, which must not be an error."""
        answer = self.raw(function, file, event or self.event(file))
        if isinstance(answer, dict) and "errorType" in answer:
            print("error")
            fail(f"{function} {file}: {answer}")
        print("ok")
        return answer

    def refused(self, function, file, event=None):
        answer = self.raw(function, file, event or self.event(file))
        print("refused")
        if not (isinstance(answer, dict) and "errorType" in answer):
            fail(f"{function} {file}: expected the invocation to fail, got {answer}")


def environments(endpoint, table, key_parameter, sender):
    """Every function's environment as SAM computes it for `sam local invoke`."""
    # As `sam local invoke --env-vars` would take them: for every function, then per function.
    overrides = {
        "Parameters": {
            "TABLE_NAME": table,
            "ENROLLMENT_KEY_PARAMETER": key_parameter,
            "EAA_CREDENTIALS_PARAMETER_PREFIX": f"/{table}/eaa",
        },
        # The links in the emails point at the host the sample events address.
        "MailerFunction": {"ENROLLMENT_LINK_BASE": f"https://{PUBLIC_HOST}/enroll"},
        "AdminFunction": {"EAA_SYNC_FUNCTION": "scim-eaa-sync"},
    }
    parameters = {"SesSender": sender, "SesIdentity": sender}
    stacks, _ = SamLocalStackProvider.get_stacks(str(ROOT / "template.yaml"), parameter_overrides=parameters,
                                                 global_parameter_overrides={"AWS::Region": REGION})
    provider = SamFunctionProvider(stacks)
    runner = LocalLambdaRunner(local_runtime=None, function_provider=provider, cwd=str(ROOT), real_path=str(ROOT),
                               aws_region=REGION, env_vars_values=overrides)
    result = {}
    for function in provider.get_all():
        env = runner.get_invoke_config(function).env_vars.resolve()
        env["AWS_ENDPOINT_URL"] = endpoint
        env["PATH"] = os.environ["PATH"]
        result[function.name] = (function.metadata["BuildProperties"]["Binary"], env)
    return result


def command(binaries, logical_id, binary, arm64):
    if not arm64:
        path = binaries / binary
        if not path.is_file():
            fail(f"{path} is missing: build it first (cargo build --bins)")
        return [str(path)]
    path = binaries / logical_id / "bootstrap"
    if not path.is_file():
        fail(f"{path} is missing: run ./scripts/sam-build first")
    return [*QEMU, str(path)]


def enrollment_token(endpoint, sender, address):
    """The link in the one email this run's sender sent to the address (moto's SES keeps
    every run's mail)."""
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=INVOKE_TIMEOUT) as response:
        messages = json.loads(response.read())["ses"]["Message"]
    bodies = [m["body"] for m in messages if sender in m["source"] and address in m["destinations"]["ToAddresses"]]
    if len(bodies) != 1:
        fail(f"expected one enrollment email to {address}, found {len(bodies)}")
    tokens = set(re.findall(r"https://" + re.escape(PUBLIC_HOST) + r"/enroll/([A-Za-z0-9_.~-]+)", bodies[0]))
    if len(tokens) != 1:
        fail(f"expected one enrollment link in the email to {address}: {bodies[0]}")
    return tokens.pop()


def scenario(run, endpoint, sender, tenant_marker):
    """The operator's bootstrap, then Entra's requests, the mailer's stream record, the
    enrollment link from the email, the EAA sync's events: each answer checked."""
    run.refused("UsersFunction", "bootstrap.json")
    boot = run.direct("AdminFunction", "bootstrap.json")
    run.values["adminKey"], tenant = boot["adminKey"], boot["tenantId"]
    run.values["tenantId"] = tenant
    run.refused("UsersFunction", "seat-limit.json")
    if run.direct("AdminFunction", "seat-limit.json").get("seats") != {"used": 0, "limit": 2}:
        fail("seat-limit.json sets the limit to 2")
    if run.http("AdminFunction", "admin-tenant.json", 200).get("seats") != {"used": 0, "limit": 2}:
        fail("admin-tenant.json shows the seats")
    created = run.http("AdminFunction", "admin-integrations-create.json", 201)
    run.values["token"], run.values["integration"] = created["token"], created["id"]
    if created["scimBaseUrl"] != f"https://{PUBLIC_HOST}/scim/v2/{created['id']}":
        fail(f"scimBaseUrl {created['scimBaseUrl']}")
    run.http("AdminFunction", "admin-integrations-list.json", 200)

    if run.http("UsersFunction", "users-list.json", 200)["totalResults"] != 0:
        fail("a fresh tenant lists users")
    user = run.http("UsersFunction", "users-create.json", 201)
    run.values["userId"] = user["id"]
    address = user["emails"][0]["value"]

    # The table's stream record of the user's outbox item (the sample, pointed at this
    # tenant and user), then the link from the email SES received.
    stream = run.event("mailer-stream.json")
    stream = json.loads(json.dumps(stream).replace(tenant_marker["tenant"], tenant).replace(tenant_marker["user"], user["id"]))
    if run.direct("MailerFunction", "mailer-stream.json", stream) != {"batchItemFailures": []}:
        fail("the mailer reported failed records")
    run.values["enrollToken"] = enrollment_token(endpoint, sender, address)
    info = run.http("EnrollFunction", "enroll-get.json", 200)
    if info["userId"] != user["id"]:
        fail(f"the link shows {info}")
    if run.http("EnrollFunction", "enroll-post.json", 201)["deviceType"] != "PUSH":
        fail("enrolled device type")
    run.http("EnrollFunction", "enroll-post.json", 410)

    run.http("UsersFunction", "users-get.json", 200)
    if run.http("UsersFunction", "users-patch.json", 200)["active"] is not False:
        fail("the PATCH did not disable the user")
    group = run.http("GroupsFunction", "groups-create.json", 201)
    run.values["groupId"] = group["id"]
    run.http("GroupsFunction", "groups-patch.json", 204)
    if "members" in run.http("GroupsFunction", "groups-get.json", 200):
        fail("groups-get.json excludes members")
    if run.http("GroupsFunction", "groups-list.json", 200)["totalResults"] != 1:
        fail("one group expected")

    config = run.http("DiscoveryFunction", "discovery-service-provider-config.json", 200)
    if not config["meta"]["location"].endswith(f"/dev/scim/v2/{created['id']}/ServiceProviderConfig"):
        fail(f"location {config['meta']['location']}")
    run.http("DiscoveryFunction", "discovery-schemas.json", 200)
    run.http("DiscoveryFunction", "discovery-resource-types.json", 200)

    run.http("AdminFunction", "admin-users-list.json", 200)
    if not run.http("AdminFunction", "admin-log.json", 200)["entries"]:
        fail("the provisioning log is empty")

    # The EAA sync: an EAA integration (created like the SCIM one), the schedule's event
    # and the manual one. It has no EAA credentials (reference) yet, so a run stops there.
    eaa = run.event("admin-integrations-create.json")
    eaa["body"] = json.dumps({"name": "EAA", "kind": "EAA"})
    eaa_integration = run.http("AdminFunction", "admin-integrations-create.json (EAA)", 201, eaa)["id"]
    scheduled = run.direct("EaaSyncFunction", "eaa-sync-scheduled.json")
    expected = [(tenant, eaa_integration, "unconfigured")]
    found = [(t["tenant"], t["integration"], t["result"].get("progress")) for t in scheduled["targets"]]
    if found != expected:
        fail(f"scheduled sync: {scheduled}")
    manual = run.direct("EaaSyncFunction", "eaa-sync-manual.json", run.event("eaa-sync-manual.json", tenant=tenant, integration=eaa_integration))
    if [(t["tenant"], t["result"].get("progress")) for t in manual["targets"]] != [(tenant, "unconfigured")]:
        fail(f"manual sync: {manual}")
    run.refused("EaaSyncFunction", "eaa-sync-manual.json (another tenant)", run.event("eaa-sync-manual.json", tenant="nobody", integration=eaa_integration))

    if "sourceMoves" not in run.direct("AdminFunction", "admin-schedule.json"):
        fail("admin-schedule.json continues the source moves")
    run.http("GroupsFunction", "groups-delete.json", 204)
    run.http("UsersFunction", "users-delete.json", 204)
    run.http("UsersFunction", "users-get.json", 404)


def check_metric_filters(log_path, progress):
    """The template's log metric filters (the EAA sync's alarms) name fields that the
    function's real "EAA sync" log line has, and its `progress` field is the one answered."""
    lines = []
    for text in Path(log_path).read_text().splitlines():
        try:
            lines.append(json.loads(text))
        except ValueError:
            continue  # the emulator's START/END/REPORT lines
    sync = [line for line in lines if isinstance(line, dict) and line.get("fields", {}).get("message") == "EAA sync"]
    if not sync:
        fail(f"no \"EAA sync\" log line in {log_path}")
    for line in sync:
        if line["fields"].get("progress") != progress:
            fail(f"the log line's progress is not {progress!r}: {line}")
    stacks, _ = SamLocalStackProvider.get_stacks(str(ROOT / "template.yaml"))
    filters = {name: r for name, r in stacks[0].resources.items() if r["Type"] == "AWS::Logs::MetricFilter"}
    if not filters:
        fail("the template has no log metric filters")
    for name, resource in filters.items():
        conditions = re.findall(r'\$\.([\w.]+)\s*=\s*"([^"]*)"', resource["Properties"]["FilterPattern"])
        if not conditions:
            fail(f"{name}: no condition in its pattern")
        for path, expected in conditions:
            for line in sync:
                value = line
                for part in path.split("."):
                    value = value.get(part) if isinstance(value, dict) else None
                if value is None:
                    fail(f"{name}: the \"EAA sync\" log line has no {path}: {line}")
                if path == "fields.message" and value != expected:
                    fail(f"{name}: matches message {expected!r}, the line's is {value!r}")
    print(f"invoke-events: the {len(filters)} log metric filters name fields of the real \"EAA sync\" log line")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--binaries", required=True, type=Path)
    parser.add_argument("--arm64", action="store_true")
    args = parser.parse_args()
    # The credentials SAM hands the function (the test server accepts any).
    os.environ.update({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION})
    os.environ.pop("AWS_PROFILE", None)

    suffix = f"{os.getpid()}-{int(time.time())}"
    table = f"scim-invoke-{suffix}"
    table_from_template(args.endpoint, table)
    key_parameter = f"/{table}/enrollment-key"
    aws("ssm", args.endpoint).put_parameter(Name=key_parameter, Value=os.urandom(32).hex(), Type="SecureString")
    sender = f"no-reply-{suffix}@mfa.example.test"
    aws("ses", args.endpoint).verify_email_identity(EmailAddress=sender)

    # The sample stream record's tenant and user ids, replaced by the real ones.
    sample = json.loads((EVENTS / "mailer-stream.json").read_text())["Records"][0]["dynamodb"]["NewImage"]
    marker = {"tenant": sample["tenant"]["S"], "user": sample["userId"]["S"]}

    envs = environments(args.endpoint, table, key_parameter, sender)
    with tempfile.TemporaryDirectory(prefix="invoke-events-") as log_dir:
        functions = {}
        try:
            for logical_id, (binary, env) in envs.items():
                functions[logical_id] = Function(logical_id, env, command(args.binaries, logical_id, binary, args.arm64), Path(log_dir))
            run = Run(functions)
            started = time.time()
            try:
                scenario(run, args.endpoint, sender, marker)
            except (SystemExit, Exception):
                for f in functions.values():
                    f.log.flush()
                    print(f"--- {f.logical_id}'s log:\n" + Path(f.log.name).read_text()[-4000:], file=sys.stderr)
                raise
            functions["EaaSyncFunction"].log.flush()
            check_metric_filters(functions["EaaSyncFunction"].log.name, "unconfigured")
            unused = sorted({p.name for p in EVENTS.glob("*.json")} - run.sent)
            if unused:
                fail(f"events never sent: {unused}")
            print(f"invoke-events: {run.count} invocations of {len(functions)} functions answered as expected in {time.time() - started:.1f} s")
        finally:
            for f in functions.values():
                f.stop()


if __name__ == "__main__":
    main()
