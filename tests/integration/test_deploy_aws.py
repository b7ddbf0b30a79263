"""deploy/aws: the KMS key policy, the instance and provisioning roles and the bucket policy.

Each document must parse, name only actions and condition keys from the lists below (taken from
the AWS Service Authorization Reference for KMS, Secrets Manager, S3 and the global keys), and
say what docs/operations.md promises: kms:Decrypt only under attestation conditions, with two
PCR sets side by side; each role exactly the calls its program makes. Where src/aws is present,
the calls are read from the client code itself, so a new call without a policy line fails here.
"""
import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
AWS = ROOT / "deploy" / "aws"

# Actions that exist (a subset of the Service Authorization Reference; wildcards allowed only
# as the prefixes in WILDCARD_PREFIXES, for the key administrators' statement).
KNOWN_ACTIONS = {
    "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:CreateGrant", "kms:CreateKey", "kms:Decrypt",
    "kms:DeleteAlias", "kms:DescribeKey", "kms:DisableKey", "kms:DisableKeyRotation",
    "kms:EnableKey", "kms:EnableKeyRotation", "kms:Encrypt", "kms:GenerateDataKey",
    "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListAliases", "kms:ListGrants",
    "kms:ListKeyPolicies", "kms:ListResourceTags", "kms:PutKeyPolicy", "kms:RevokeGrant",
    "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource", "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
    "secretsmanager:CreateSecret", "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
    "s3:DeleteObject", "s3:GetObject", "s3:ListBucket", "s3:PutObject", "s3:*",
}
WILDCARD_PREFIXES = {"kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*",
                     "kms:Update*", "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*"}
KNOWN_CONDITION_KEYS = {
    "kms:RecipientAttestation:PCR0", "kms:RecipientAttestation:PCR1",
    "kms:RecipientAttestation:PCR2", "kms:RecipientAttestation:PCR3",
    "kms:RecipientAttestation:PCR4", "kms:RecipientAttestation:PCR8",
    "kms:RecipientAttestation:ImageSha384", "kms:EncryptionContext:purpose",
    "s3:prefix", "aws:SecureTransport", "aws:PrincipalArn",
}
KNOWN_OPERATORS = {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "Bool",
                   "ArnNotEquals", "ArnEquals"}
# API operation (as the client code names it) -> IAM action.
OPERATION_ACTION = {
    ("kms", "Decrypt"): "kms:Decrypt",
    ("kms", "GenerateDataKey"): "kms:GenerateDataKey",
    ("secrets", "GetSecretValue"): "secretsmanager:GetSecretValue",
    ("secrets", "CreateSecret"): "secretsmanager:CreateSecret",
    ("secrets", "PutSecretValue"): "secretsmanager:PutSecretValue",
    ("s3", "GetObject"): "s3:GetObject",
    ("s3", "PutObject"): "s3:PutObject",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
}
# Which program makes which call (enclave = nitro-enc-svc's providers, cli = nitro-enc).
ENCLAVE_ACTIONS = {"kms:Decrypt", "secretsmanager:GetSecretValue", "s3:GetObject",
                   "s3:ListBucket"}
CLI_ACTIONS = {"kms:GenerateDataKey", "secretsmanager:CreateSecret",
               "secretsmanager:PutSecretValue", "s3:PutObject"}
PCR_HEX = re.compile(r"^[0-9a-f]{96}$")


def load(name):
    return json.loads((AWS / name).read_text())


def statements(doc):
    st = doc["Statement"]
    return st if isinstance(st, list) else [st]


def as_list(v):
    return v if isinstance(v, list) else [v]


def actions(st):
    return set(as_list(st["Action"]))


@pytest.mark.parametrize("name", sorted(p.name for p in AWS.glob("*.json")))
def test_documents_name_only_known_actions_and_keys(name):
    doc = load(name)
    assert doc["Version"] == "2012-10-17"
    assert statements(doc), f"{name}: no statement"
    for st in statements(doc):
        assert st["Effect"] in ("Allow", "Deny")
        assert set(st) <= {"Sid", "Effect", "Principal", "Action", "Resource", "Condition"}
        for a in actions(st):
            assert a in KNOWN_ACTIONS or a in WILDCARD_PREFIXES, f"{name}: unknown action {a}"
        for op, keys in st.get("Condition", {}).items():
            assert op in KNOWN_OPERATORS, f"{name}: unknown condition operator {op}"
            for k in keys:
                assert k in KNOWN_CONDITION_KEYS, f"{name}: unknown condition key {k}"


def test_kms_decrypt_only_with_attestation_and_two_pcr_sets():
    doc = load("kms-key-policy.json")
    decrypts = [st for st in statements(doc) if "kms:Decrypt" in actions(st)]
    assert len(decrypts) == 2, "two PCR sets side by side (current and next release)"
    pcr0s = set()
    for st in decrypts:
        assert st["Effect"] == "Allow" and actions(st) == {"kms:Decrypt"}
        cond = st["Condition"]["StringEqualsIgnoreCase"]
        pcr0, image = cond["kms:RecipientAttestation:PCR0"], cond["kms:RecipientAttestation:ImageSha384"]
        assert PCR_HEX.match(pcr0) and PCR_HEX.match(image), "96 hex digits (SHA-384)"
        pcr0s.add(pcr0)
    assert len(pcr0s) == 2, "the two Decrypt statements must name different PCR0s"
    # No other statement may grant Decrypt, directly or by a wildcard.
    for st in statements(doc):
        if st not in decrypts and st["Effect"] == "Allow":
            for a in actions(st):
                assert not (a in ("kms:*", "kms:Decrypt", "kms:Decrypt*") or a == "*"), st.get("Sid")


def test_roles_grant_exactly_what_their_program_calls():
    node = set().union(*(actions(s) for s in statements(load("instance-role-policy.json"))))
    prov = set().union(*(actions(s) for s in statements(load("provisioning-role-policy.json"))))
    # kms:Decrypt of the node role is granted by the key policy (with attestation), not here.
    assert node == ENCLAVE_ACTIONS - {"kms:Decrypt"}
    assert prov == CLI_ACTIONS
    for doc in ("instance-role-policy.json", "provisioning-role-policy.json"):
        for st in statements(load(doc)):
            for r in as_list(st["Resource"]):
                assert r != "*" and not r.endswith(":::*"), f"{doc}: {st['Sid']} on everything"


def test_policies_cover_every_call_in_the_aws_client():
    aws = ROOT / "src" / "aws"
    if not (aws / "kms.c").exists():
        pytest.skip("src/aws (branch aws) is not in this tree: calls cannot be read from code")
    found = set()
    for svc, fname, pat in (("kms", "kms.c", r'call\(c, "(\w+)"'),
                            ("secrets", "secrets.c", r'(?:call|write_secret)\(c, "(\w+)"'),
                            ("s3", "s3.c", r'\.operation = "(\w+)"')):
        for op in re.findall(pat, (aws / fname).read_text()):
            found.add((svc, op))
    assert found, "no AWS operation found in src/aws (did the client change shape?)"
    unknown = found - set(OPERATION_ACTION)
    assert not unknown, f"AWS calls without an IAM mapping in this test: {sorted(unknown)}"
    called = {OPERATION_ACTION[f] for f in found}
    assert called == ENCLAVE_ACTIONS | CLI_ACTIONS, "policies and client calls differ"
