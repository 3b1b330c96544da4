"""The tabletop variant of the demo (``jepa-world-model demo --robot tabletop``): a scripted
driver that pushes the block and grasps the cube, a recorder that also keeps the
simulator's ground-truth poses, and the object-motion and grip analysis."""
