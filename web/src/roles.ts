import type { Role } from './api/rendermill.ts';

export const RANK: Record<Role, number> = { viewer: 0, member: 1, admin: 2, owner: 3 };
export const ROLES: Role[] = ['viewer', 'member', 'admin', 'owner'];
export const atLeast = (role: Role, min: Role): boolean => RANK[role] >= RANK[min];
