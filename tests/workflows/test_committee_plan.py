"""workflow.committee: one single point per committee model at each structure's final
geometry, planned like every calculation (content hash, inputs)."""

from conftest import STUDIES


def test_committee_single_points_follow_the_final_calculation(quick_records):
    from facetflow.study import load_study
    from facetflow.workflows.plan import build_plan

    base = load_study(STUDIES / "quick.yaml")
    wf = base.workflow.model_copy(update={"committee": ["sevennet-0", "chgnet"], "starts": 2})
    study = base.model_copy(update={"workflow": wf})
    plan = build_plan(study, quick_records)
    plain = build_plan(base.model_copy(update={"workflow": base.workflow.model_copy(
        update={"starts": 2})}), quick_records)
    # chgnet is the engine's own model: not repeated; one sevennet-0 point per structure
    extra = [n for n in plan.nodes.values() if n.stage == "committee"]
    assert len(plan.nodes) - len(plain.nodes) == len(extra) == len(plan.records)
    for sid, rec in plan.records.items():
        assert set(rec.committee) == {"sevennet-0"}
        node = plan.nodes[rec.committee["sevennet-0"]]
        assert node.engine == "mlip" and node.task == "single"
        assert node.settings["model"] == "sevennet-0" and node.key == f"{sid}@sevennet-0"
        assert node.start_from == rec.calc and node.start_map is None
        # several starts: the single point is at the lowest start's geometry
        assert node.start_alternatives == list(rec.starts[1:])
        assert node.depth > plan.nodes[rec.calc].depth
    # the final calculations are the ones the study has without a committee
    assert {r.calc for r in plan.records.values()} == {r.calc for r in plain.records.values()}
