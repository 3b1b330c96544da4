"""Forward kinematics from a robot's URDF: where named links are, given the joint positions.

Why the world model needs it: an image shows where the robot's *links* are, not every joint
angle. On gymnasium's Pusher (docs/your_robot.md) the image head read the shoulder to
0.05 rad but the three roll joints of the grey, nearly round arm to 0.6-1.3 rad, and image
goals aimed in joint units failed (0-2 of 50). Where a link is in space is what the camera
sees and what a reaching task asks for, so a model with ``kinematics`` also reads the goal
links' positions from images (``image_link_head``) and the planner aims the links' predicted
positions, ``FK(q)`` of the predicted joints, at the goal image's (core/planning/goals.py).

:func:`kinematics_from_urdf` keeps only the joints on the paths from ``base_link`` to the
goal links (a :class:`KinematicsConfig`, stored in the model config and so in every
checkpoint: a model never needs the URDF file again), and :class:`ForwardKinematics` runs
them in torch, batched and differentiable. URDF conventions (REP 103, the URDF spec): a
joint's ``origin`` places its frame in the parent link's frame (``xyz`` in metres, ``rpy``
fixed-axis roll, pitch, yaw); the joint then turns about (revolute, continuous) or slides
along (prismatic) its unit ``axis`` in that frame; the child link's frame is the result.

Pure Python and PyTorch, no ROS: the URDF is parsed with the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import Dict, List, Sequence, Tuple
import xml.etree.ElementTree as ElementTree

import torch
from torch import Tensor, nn

from ..settings_spec import ConfigError, require

__all__ = ['KinematicJoint', 'KinematicsConfig', 'ForwardKinematics', 'kinematics_from_urdf',
           'JOINT_TYPES', 'MAX_KINEMATIC_JOINTS', 'MAX_GOAL_LINKS', 'MAX_URDF_BYTES']

#: URDF joint types a chain may hold (``floating`` and ``planar`` have no single position).
JOINT_TYPES = ('fixed', 'revolute', 'continuous', 'prismatic')
#: Bounds checked before anything is built (a real arm's chain has tens of joints).
MAX_KINEMATIC_JOINTS = 256
MAX_GOAL_LINKS = 64        # each adds 3 outputs to the link read-out
MAX_URDF_BYTES = 16 * 1024 * 1024


@dataclass
class KinematicJoint:
    """One URDF joint on a path from the base link to a goal link.

    Attributes:
        name: The URDF joint name; a moving joint must be one of the model's ``joint_names``.
        type: One of :data:`JOINT_TYPES`.
        parent: Index in :attr:`KinematicsConfig.joints` of the joint whose child link is
            this joint's parent link; -1 when the parent link is the base link.
        xyz: Origin translation [3] in the parent link's frame [m].
        rpy: Origin rotation [3] (fixed-axis roll, pitch, yaw) [rad].
        axis: Unit axis [3] in the joint frame (ignored for fixed joints).
    """

    name: str = ''
    type: str = 'fixed'
    parent: int = -1
    xyz: List[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    rpy: List[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    axis: List[float] = field(default_factory=lambda: [1.0, 0.0, 0.0])

    def check(self, index: int) -> None:
        """ConfigError unless well formed; ``index`` is this joint's place in the chain."""
        where = f'kinematics joint {index} ({self.name!r})'
        require(bool(self.name), f'{where}: needs a name')
        require(self.type in JOINT_TYPES, f'{where}: type must be one of {JOINT_TYPES}, '
                f'got {self.type!r}')
        require(-1 <= self.parent < index, f'{where}: parent must be -1 or an earlier joint, '
                f'got {self.parent}')
        for key in ('xyz', 'rpy', 'axis'):
            values = getattr(self, key)
            require(len(values) == 3 and all(math.isfinite(v) for v in values),
                    f'{where}: {key} must be 3 finite numbers, got {values}')
        require(self.type == 'fixed' or math.sqrt(sum(v * v for v in self.axis)) > 1e-9,
                f'{where}: a moving joint needs a non-zero axis')


@dataclass
class KinematicsConfig:
    """The part of a URDF the model uses (``model.kinematics``; empty: no kinematics).

    Attributes:
        base_link: The frame link positions are given in (e.g. ``base_link``).
        goal_links: Links whose positions [L, 3] image goals are read and aimed in.
        joints: The URDF joints on the paths from ``base_link`` to the goal links, parents
            before children (:func:`kinematics_from_urdf` writes them).
        goal_joints: For each goal link, the index in ``joints`` of the joint whose child it
            is (-1: the goal link is the base link itself).
    """

    base_link: str = ''
    goal_links: List[str] = field(default_factory=list)
    joints: List[KinematicJoint] = field(default_factory=list)
    goal_joints: List[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        require(len(self.joints) <= MAX_KINEMATIC_JOINTS,
                f'kinematics has {len(self.joints)} joints, at most {MAX_KINEMATIC_JOINTS}')
        require(len(self.goal_links) <= MAX_GOAL_LINKS,
                f'kinematics has {len(self.goal_links)} goal links, at most {MAX_GOAL_LINKS}')
        if not self.enabled:
            require(not self.joints and not self.goal_joints,
                    'kinematics: joints without goal_links')
            return
        require(bool(self.base_link), 'kinematics needs a base_link')
        require(len(set(self.goal_links)) == len(self.goal_links),
                'kinematics goal_links must be unique')
        require(len(self.goal_joints) == len(self.goal_links),
                'kinematics needs one goal_joints entry per goal link')
        for i, joint in enumerate(self.joints):
            joint.check(i)
        require(len({j.name for j in self.joints}) == len(self.joints),
                'kinematics joint names must be unique')
        require(all(-1 <= g < len(self.joints) for g in self.goal_joints),
                f'kinematics goal_joints {self.goal_joints} must index joints')

    @property
    def enabled(self) -> bool:
        """True when the model has goal links (and so FK and an image link head)."""
        return bool(self.goal_links)

    def moving_joints(self) -> List[str]:
        """Names of the chain's non-fixed joints (each must be a model joint)."""
        return [j.name for j in self.joints if j.type != 'fixed']


def _floats(text: str, what: str, default: Sequence[float]) -> List[float]:
    if text is None:
        return list(default)
    try:
        values = [float(v) for v in text.split()]
    except ValueError as exc:
        raise ConfigError(f'URDF {what}: {text!r} is not 3 numbers') from exc
    require(len(values) == 3 and all(math.isfinite(v) for v in values),
            f'URDF {what}: {text!r} is not 3 finite numbers')
    return values


def _parse_joints(urdf: str) -> Dict[str, Tuple[str, KinematicJoint, bool]]:
    """child link -> (parent link, joint, has mimic) for every joint of the URDF."""
    require(len(urdf.encode('utf-8', 'replace')) <= MAX_URDF_BYTES,
            f'URDF larger than {MAX_URDF_BYTES} bytes')
    require('<!DOCTYPE' not in urdf and '<!ENTITY' not in urdf,
            'URDF with a DOCTYPE or entities is refused (entity expansion)')
    try:
        root = ElementTree.fromstring(urdf)
    except ElementTree.ParseError as exc:
        raise ConfigError(f'URDF does not parse: {exc}') from exc
    require(root.tag == 'robot', f'URDF root element must be <robot>, got <{root.tag}>')
    by_child: Dict[str, Tuple[str, KinematicJoint, bool]] = {}
    for element in root.findall('joint'):
        name, kind = element.get('name', ''), element.get('type', '')
        parent, child = element.find('parent'), element.find('child')
        require(bool(name) and parent is not None and child is not None,
                f'URDF joint {name!r} needs a name, a <parent> and a <child>')
        child_link = child.get('link', '')
        require(child_link not in by_child, f'URDF link {child_link!r} has two parent joints')
        origin, axis = element.find('origin'), element.find('axis')
        joint = KinematicJoint(
            name=name, type=kind,
            xyz=_floats(None if origin is None else origin.get('xyz'), f'{name} origin xyz',
                        (0.0, 0.0, 0.0)),
            rpy=_floats(None if origin is None else origin.get('rpy'), f'{name} origin rpy',
                        (0.0, 0.0, 0.0)),
            axis=_floats(None if axis is None else axis.get('xyz'), f'{name} axis',
                         (1.0, 0.0, 0.0)))
        by_child[child_link] = (parent.get('link', ''), joint, element.find('mimic') is not None)
    return by_child


def kinematics_from_urdf(urdf: str, base_link: str, goal_links: Sequence[str],
                         joint_names: Sequence[str]) -> KinematicsConfig:
    """The chain from ``base_link`` to each of ``goal_links`` in URDF text ``urdf``.

    ``joint_names``: the model's joints; every moving joint on a path must be one of them
    (a joint the robot does not report cannot be predicted).

    Raises:
        ConfigError: The URDF does not parse, a link is missing or not below ``base_link``,
            or a joint on a path is floating/planar, a mimic joint, or not a model joint.
    """
    require(bool(goal_links), 'kinematics needs at least one goal link')
    by_child = _parse_joints(urdf)
    links = {parent for parent, _, _ in by_child.values()} | set(by_child)
    require(base_link in links, f'URDF has no link {base_link!r}')
    chain: List[KinematicJoint] = []
    index_of: Dict[str, int] = {}      # child link -> index in chain

    def place(link: str) -> int:
        """Index of the joint whose child is ``link`` (placing its ancestors first)."""
        if link == base_link:
            return -1
        if link in index_of:
            return index_of[link]
        require(link in by_child, f'URDF link {link!r} is not below {base_link!r}')
        parent_link, joint, mimic = by_child[link]
        require(joint.type in JOINT_TYPES, f'URDF joint {joint.name!r} has type '
                f'{joint.type!r}; a chain may hold {JOINT_TYPES}')
        require(not mimic or joint.type == 'fixed', f'URDF joint {joint.name!r} is a mimic '
                'joint; mimic joints are not supported on a goal link path')
        require(joint.type == 'fixed' or joint.name in joint_names,
                f'URDF joint {joint.name!r} moves a goal link but is not one of the model '
                f'joints {list(joint_names)}')
        require(len(index_of) < MAX_KINEMATIC_JOINTS, 'URDF chain too long')
        parent = place(parent_link)
        chain.append(KinematicJoint(joint.name, joint.type, parent, joint.xyz, joint.rpy,
                                    joint.axis))
        index_of[link] = len(chain) - 1
        return index_of[link]

    goal_joints = []
    for link in goal_links:
        require(link in links, f'URDF has no link {link!r}')
        goal_joints.append(place(link))
    return KinematicsConfig(base_link, list(goal_links), chain, goal_joints)


def _rpy_matrix(rpy: Sequence[float]) -> Tensor:
    """URDF fixed-axis roll, pitch, yaw -> rotation [3, 3] (Rz(yaw) Ry(pitch) Rx(roll))."""
    r, p, y = (float(v) for v in rpy)
    cr, sr, cp, sp, cy, sy = (math.cos(r), math.sin(r), math.cos(p), math.sin(p),
                              math.cos(y), math.sin(y))
    return torch.tensor([[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                         [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                         [-sp, cp * sr, cp * cr]], dtype=torch.float64)


class ForwardKinematics(nn.Module):
    """Goal link positions from joint positions: q [..., J] -> [..., L, 3] in ``base_link``.

    Args:
        cfg: The chain (:class:`KinematicsConfig`, enabled).
        joint_names: The model's joint order, the order of ``q``'s last axis.

    Raises:
        ConfigError: A moving joint of the chain is not in ``joint_names``.
    """

    def __init__(self, cfg: KinematicsConfig, joint_names: Sequence[str]) -> None:
        super().__init__()
        require(cfg.enabled, 'ForwardKinematics needs goal links')
        names = list(joint_names)
        missing = [n for n in cfg.moving_joints() if n not in names]
        require(not missing, f'kinematics joints {missing} are not model joints {names}')
        self.parents = [j.parent for j in cfg.joints]
        self.types = [j.type for j in cfg.joints]
        self.q_index = [names.index(j.name) if j.type != 'fixed' else -1 for j in cfg.joints]
        self.goal_joints = list(cfg.goal_joints)
        origins = torch.zeros(max(len(cfg.joints), 1), 4, 4, dtype=torch.float64)
        generators = torch.zeros_like(origins)
        for i, joint in enumerate(cfg.joints):
            origins[i, :3, :3] = _rpy_matrix(joint.rpy)
            origins[i, :3, 3] = torch.tensor(joint.xyz, dtype=torch.float64)
            origins[i, 3, 3] = 1.0
            # plain Python: a checkpoint builds the model on the meta device first
            norm = math.sqrt(sum(v * v for v in joint.axis)) or 1.0
            x, y, z = (v / norm for v in joint.axis)
            if joint.type == 'prismatic':       # translation along the axis
                generators[i, :3, 3] = torch.tensor([x, y, z])
            else:                               # the cross-product matrix of the axis
                generators[i, :3, :3] = torch.tensor([[0.0, -z, y], [z, 0.0, -x],
                                                      [-y, x, 0.0]])
        # Derived from the config, so not saved in checkpoints (persistent=False).
        self.register_buffer('origins', origins.float(), persistent=False)
        self.register_buffer('generators', generators.float(), persistent=False)

    def _motion(self, i: int, q: Tensor) -> Tensor:
        """Joint i's motion [..., 4, 4] at its position q [...]: I + a K + b K^2 with K the
        axis's generator, (a, b) = (sin q, 1 - cos q) for a rotation (Rodrigues' formula)
        and (q, 0) for a translation (its K^2 is zero)."""
        if self.types[i] == 'prismatic':
            a, b = q, torch.zeros_like(q)
        else:
            a, b = torch.sin(q), 1 - torch.cos(q)
        eye = torch.eye(4, dtype=q.dtype, device=q.device)
        k = self.generators[i].to(q)
        return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)

    def transforms(self, q: Tensor) -> List[Tensor]:
        """Each chain joint's child-link pose in ``base_link``: a list of [..., 4, 4]."""
        batch = q.shape[:-1]
        out: List[Tensor] = []
        for i, parent in enumerate(self.parents):
            pose = self.origins[i].to(q).expand(*batch, 4, 4)
            if parent >= 0:
                pose = out[parent] @ pose
            if self.types[i] != 'fixed':
                pose = pose @ self._motion(i, q[..., self.q_index[i]])
            out.append(pose)
        return out

    def forward(self, q: Tensor) -> Tensor:
        """q [..., J] (model joint order, physical units) -> goal link positions [..., L, 3]."""
        poses = self.transforms(q)
        zero = q.new_zeros(*q.shape[:-1], 3)
        return torch.stack([poses[g][..., :3, 3] if g >= 0 else zero
                            for g in self.goal_joints], dim=-2)
