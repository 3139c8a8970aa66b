"""Pure tier: the source bucket's name and its creation body (gcp/bodies/storage.py)."""

from __future__ import annotations

from deployer.gcp.bodies.storage import BUCKET_NAME_MAX, source_bucket_body, source_bucket_name


def test_source_bucket_is_regional_and_named_as_gcloud_names_it() -> None:
    assert source_bucket_name("my-proj", "europe-west4") == "my-proj_europe-west4_cloudbuild"
    assert (
        source_bucket_name("example.com:my-google-proj", "us-central1")
        == "example_com_my-elgoog-proj_us-central1_cloudbuild"
    )


def test_a_long_name_stays_within_63_characters_and_keeps_the_region() -> None:
    long_a = source_bucket_name("example.com:a-thirty-character-project-id1", "northamerica-northeast2")
    long_b = source_bucket_name("example.com:a-thirty-character-project-id2", "northamerica-northeast2")
    assert len(long_a) <= BUCKET_NAME_MAX
    assert long_a.endswith("_northamerica-northeast2_cloudbuild")
    assert long_a != long_b


def test_source_bucket_is_private_regional_and_forgets_sources() -> None:
    body = source_bucket_body("p_europe-west4_cloudbuild", "europe-west4", 30)
    assert body["location"] == "europe-west4"
    assert body["iamConfiguration"] == {
        "uniformBucketLevelAccess": {"enabled": True},
        "publicAccessPrevention": "enforced",
    }
    assert body["lifecycle"] == {"rule": [{"action": {"type": "Delete"}, "condition": {"age": 30}}]}
    assert body["labels"] == {"managed-by": "deployer"}
